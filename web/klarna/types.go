package klarna

import (
	"encoding/json"
	"strings"
	"time"

	"refshop/web/secret"
)

// Intent values for a payment session. The OpenAPI enum has buy, tokenize and
// buy_and_tokenize; Klarna's account-linking guide adds buy_and_link ("to
// both complete a payment and link or refresh the customer token").
const (
	IntentBuy        = "buy"
	IntentBuyAndLink = "buy_and_link" // pay and link (or refresh) the customer's Klarna account
)

// OrderLine is one line of a session or an order. Amounts are minor units.
// In Europe unit_price and total_amount include tax and every line carries
// tax_rate (two implied decimals, 1900 = 19%) and total_tax_amount. In the
// United States neither field is present on any line (Klarna's tax-handling
// guide): tax is a line of its own, type sales_tax. The pointers tell "not
// sent" from a 0% rate, which a European line sends.
type OrderLine struct {
	Type                string `json:"type,omitempty"` // physical, discount, shipping_fee, sales_tax, ...
	Reference           string `json:"reference,omitempty"`
	Name                string `json:"name"`
	Quantity            int64  `json:"quantity"`
	QuantityUnit        string `json:"quantity_unit,omitempty"`
	UnitPrice           int64  `json:"unit_price"`
	TaxRate             *int   `json:"tax_rate,omitempty"`
	TotalAmount         int64  `json:"total_amount"`
	TotalDiscountAmount int64  `json:"total_discount_amount"`
	TotalTaxAmount      *int64 `json:"total_tax_amount,omitempty"`
	ProductURL          string `json:"product_url,omitempty"`
	ImageURL            string `json:"image_url,omitempty"`
}

// Rate is the line's tax_rate, 0 when it carries none.
func (l OrderLine) Rate() int {
	if l.TaxRate == nil {
		return 0
	}
	return *l.TaxRate
}

// Tax is the line's total_tax_amount, 0 when it carries none.
func (l OrderLine) Tax() int64 {
	if l.TotalTaxAmount == nil {
		return 0
	}
	return *l.TotalTaxAmount
}

// MerchantURLs are where Klarna sends the customer and its notifications.
// {session.id} and {order.id} are placeholders Klarna fills in.
type MerchantURLs struct {
	Confirmation string `json:"confirmation,omitempty"`
	Notification string `json:"notification,omitempty"`
	Push         string `json:"push,omitempty"`
	// Authorization is the optional server-side authorization callback.
	Authorization string `json:"authorization,omitempty"`
}

// Address is a billing or shipping address.
type Address struct {
	GivenName      string `json:"given_name,omitempty"`
	FamilyName     string `json:"family_name,omitempty"`
	Email          string `json:"email,omitempty"`
	Phone          string `json:"phone,omitempty"`
	StreetAddress  string `json:"street_address,omitempty"`
	StreetAddress2 string `json:"street_address2,omitempty"`
	PostalCode     string `json:"postal_code,omitempty"`
	City           string `json:"city,omitempty"`
	Region         string `json:"region,omitempty"`
	Country        string `json:"country,omitempty"`
}

// Customer is the session's customer object. Besides the OpenAPI fields it
// carries the two tokens Klarna's guides add: CustomerToken (account linking:
// the stored customer_token opens the widget ready to buy) and
// KlarnaAccessToken (a fresh Sign in with Klarna access token recognises the
// signed-in customer; an expired one only makes the widget ask for a login:
// https://docs.klarna.com/sign-in-with-klarna/integrate-sign-in-with-klarna/integrate-with-klarna-payments/).
// Both are secrets: they print as [redacted] everywhere except in the request
// body MarshalJSON writes.
type Customer struct {
	CustomerToken     secret.Secret
	KlarnaAccessToken secret.Secret
	DateOfBirth       string
	Type              string // person or organization
}

// IsZero reports whether the customer object would be empty.
func (c Customer) IsZero() bool {
	return c.CustomerToken.IsZero() && c.KlarnaAccessToken.IsZero() && c.DateOfBirth == "" && c.Type == ""
}

// MarshalJSON writes the wire form. This is the one place the tokens are
// revealed: the protocol needs them in the request body.
func (c Customer) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		CustomerToken     string `json:"customer_token,omitempty"`
		KlarnaAccessToken string `json:"klarna_access_token,omitempty"`
		DateOfBirth       string `json:"date_of_birth,omitempty"`
		Type              string `json:"type,omitempty"`
	}{c.CustomerToken.Reveal(), c.KlarnaAccessToken.Reveal(), c.DateOfBirth, c.Type})
}

// Purchase is what a session and the order placed from it both carry. The
// order's must match the session the customer approved, or Klarna answers
// 409.
type Purchase struct {
	PurchaseCountry    string        `json:"purchase_country"`
	PurchaseCurrency   string        `json:"purchase_currency"`
	Locale             string        `json:"locale,omitempty"`
	OrderAmount        int64         `json:"order_amount"`
	OrderTaxAmount     int64         `json:"order_tax_amount"`
	OrderLines         []OrderLine   `json:"order_lines"`
	MerchantURLs       *MerchantURLs `json:"merchant_urls,omitempty"`
	MerchantReference1 string        `json:"merchant_reference1,omitempty"`
	MerchantReference2 string        `json:"merchant_reference2,omitempty"`
	BillingAddress     *Address      `json:"billing_address,omitempty"`
}

// SessionRequest is the body of create session and update session.
type SessionRequest struct {
	AcquiringChannel string `json:"acquiring_channel,omitempty"`
	Intent           string `json:"intent,omitempty"`
	Purchase
	Customer *Customer `json:"customer,omitempty"`
}

// PaymentMethodCategory is one way to pay the session offers. The page lists
// them by Name and loads and authorizes the widget with the Identifier the
// customer picked (Klarna.Payments.load and authorize take it as
// payment_method_category).
type PaymentMethodCategory struct {
	Identifier string `json:"identifier"` // klarna, pay_later, pay_now, pay_over_time, ...
	Name       string `json:"name"`
	AssetURLs  struct {
		Descriptive string `json:"descriptive"`
		Standard    string `json:"standard"`
	} `json:"asset_urls"`
}

// Session is the create-session answer (merchant_session).
type Session struct {
	SessionID               string                  `json:"session_id"`
	ClientToken             string                  `json:"client_token"` // for the browser: Klarna.Payments.init
	PaymentMethodCategories []PaymentMethodCategory `json:"payment_method_categories"`
}

// SessionState is the read-session answer (session_read): what the session
// holds now.
type SessionState struct {
	SessionID   string `json:"session_id"`
	ClientToken string `json:"client_token"`
	Status      string `json:"status"` // SessionComplete (an order was placed) or incomplete
	// AuthorizationToken is the session's latest authorization (read
	// only). Never logged: with the merchant's credentials it places the
	// order.
	AuthorizationToken      string                  `json:"authorization_token"`
	ExpiresAt               time.Time               `json:"expires_at"`
	Intent                  string                  `json:"intent"`
	PurchaseCountry         string                  `json:"purchase_country"`
	PurchaseCurrency        string                  `json:"purchase_currency"`
	Locale                  string                  `json:"locale"`
	OrderAmount             int64                   `json:"order_amount"`
	OrderTaxAmount          int64                   `json:"order_tax_amount"`
	OrderLines              []OrderLine             `json:"order_lines"`
	PaymentMethodCategories []PaymentMethodCategory `json:"payment_method_categories"`
}

// SessionComplete is a session's status once an order was placed from it.
const SessionComplete = "complete"

// OrderRequest is the body of create order (create_order_request). Its
// Purchase must match the authorized session, or Klarna answers 409.
type OrderRequest struct {
	Purchase
	AutoCapture bool `json:"auto_capture,omitempty"`
}

// TokenOrderRequest is the body of an order with a customer token
// (customer_token_order): no purchase_country, and order_tax_amount required.
type TokenOrderRequest struct {
	PurchaseCurrency   string            `json:"purchase_currency"`
	OrderAmount        int64             `json:"order_amount"`
	OrderTaxAmount     int64             `json:"order_tax_amount"`
	OrderLines         []OrderLine       `json:"order_lines"`
	MerchantURLs       *TokenMerchantURL `json:"merchant_urls,omitempty"`
	MerchantReference1 string            `json:"merchant_reference1,omitempty"`
	MerchantReference2 string            `json:"merchant_reference2,omitempty"`
	AutoCapture        bool              `json:"auto_capture,omitempty"`
}

// TokenMerchantURL is the customer-token order's merchant_urls, where
// confirmation is required.
type TokenMerchantURL struct {
	Confirmation string `json:"confirmation"`
	Push         string `json:"push,omitempty"`
}

// PaymentMethod is authorized_payment_method. Klarna's create-order guide
// shows a string ("invoice"), the Payments OpenAPI an object {type,
// number_of_days, number_of_installments}; both decode.
type PaymentMethod struct {
	Type                 string `json:"type"`
	NumberOfDays         int    `json:"number_of_days,omitempty"`
	NumberOfInstallments int    `json:"number_of_installments,omitempty"`
}

func (p *PaymentMethod) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*p = PaymentMethod{Type: s}
		return nil
	}
	type plain PaymentMethod
	return json.Unmarshal(b, (*plain)(p))
}

// Order is the answer to create order and to a customer-token order.
type Order struct {
	OrderID                 string
	RedirectURL             string
	FraudStatus             string // FraudAccepted or FraudPending
	AuthorizedPaymentMethod PaymentMethod
	// CustomerToken is the account-linking token when Klarna returned one:
	// on a buy_and_link order unless the customer opted out, and whenever
	// Klarna rotated the token. Zero when none came back.
	CustomerToken secret.Secret
}

// wireOrder is the order answer as sent. The account-linking guide says
// create order returns the customer_token but shows it only in a sample, at
// the top level; client and sandbox both read it there
// (https://docs.klarna.com/payments/web-payments/additional-resources/use-cases/account-linking).
type wireOrder struct {
	OrderID                 string         `json:"order_id"`
	RedirectURL             string         `json:"redirect_url"`
	FraudStatus             string         `json:"fraud_status"`
	AuthorizedPaymentMethod *PaymentMethod `json:"authorized_payment_method"`
	CustomerToken           string         `json:"customer_token"`
}

func (w wireOrder) order() Order {
	o := Order{OrderID: w.OrderID, RedirectURL: w.RedirectURL, FraudStatus: w.FraudStatus,
		CustomerToken: secret.New(w.CustomerToken)}
	if w.AuthorizedPaymentMethod != nil {
		o.AuthorizedPaymentMethod = *w.AuthorizedPaymentMethod
	}
	return o
}

// TokenInfo is what reading a customer token tells (customer_token).
type TokenInfo struct {
	Status            string `json:"status"` // ACTIVE, CANCELLED, SUSPENDED
	PaymentMethodType string `json:"payment_method_type"`
}

// Active reports whether the token can still be used. Klarna writes the
// status in capitals in its examples and in lower case in its prose; compare
// without case.
func (t TokenInfo) Active() bool { return strings.EqualFold(t.Status, "ACTIVE") }

// Fraud statuses of a placed order. PENDING: Klarna's fraud check holds the
// order; the merchant must not ship until Klarna accepts it (a notification
// tells the outcome; reading the order with GetOrder confirms it).
// REJECTED: Klarna refused it after the review.
const (
	FraudAccepted = "ACCEPTED"
	FraudPending  = "PENDING"
	FraudRejected = "REJECTED"
)
