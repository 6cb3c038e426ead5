package altpay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"refshop/web/money"
	"refshop/web/secret"
)

// Decimal is an amount in minor units that travels as decimal major units
// (1990 <-> 19.90). It reads a JSON number or a numeric string.
type Decimal int64

// DecimalOf returns an Amount's minor units as a Decimal.
func DecimalOf(a money.Amount) Decimal { return Decimal(a.Minor) }

func (d Decimal) String() string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	return fmt.Sprintf("%s%d.%02d", sign, d/100, d%100)
}

func (d Decimal) MarshalJSON() ([]byte, error) { return []byte(d.String()), nil }

func (d *Decimal) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	whole, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(whole, "-")
	whole = strings.TrimPrefix(whole, "-")
	if len(frac) > 2 {
		// More precision than cents: not an amount this shop can hold.
		return fmt.Errorf("altpay: amount %s has more than two decimals", b)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return fmt.Errorf("altpay: amount %s is not a decimal", b)
	}
	frac += strings.Repeat("0", 2-len(frac))
	f, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return fmt.Errorf("altpay: amount %s is not a decimal", b)
	}
	v := w*100 + f
	if neg {
		v = -v
	}
	*d = Decimal(v)
	return nil
}

// Customer is CustomerReply.
type Customer struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Email      string    `json:"email"`
	ExternalID string    `json:"external_id"`
	CreatedAt  time.Time `json:"created_at"`
}

// NewCustomer is the body of POST /customers.
type NewCustomer struct {
	Email      string `json:"email"`
	ExternalID string `json:"external_id"`
	Name       string `json:"name"`
}

// Invoice statuses (the SDK's type).
const (
	InvoiceUpcoming = "UPCOMING"
	InvoiceOverdue  = "OVERDUE"
	InvoiceReceived = "RECEIVED" // paid by a rail that has not settled yet (ACH)
	InvoicePaid     = "PAID"
	InvoiceArchived = "ARCHIVED"
)

// Invoice is the API's Invoice.
type Invoice struct {
	ID            string     `json:"id"`
	CustomerID    string     `json:"customer_id"`
	InvoiceNumber string     `json:"invoice_number"`
	Status        string     `json:"status"`
	Currency      string     `json:"currency"`
	DueDate       string     `json:"due_date"`
	SubTotal      Decimal    `json:"sub_total"`
	Total         Decimal    `json:"total"`
	LineItems     []LineItem `json:"line_items"`
	CreatedAt     time.Time  `json:"created_at"`
}

// Paid reports whether the provider says the invoice is paid.
func (in Invoice) Paid() bool { return strings.EqualFold(in.Status, InvoicePaid) }

// TotalAmount is the total as an Amount.
func (in Invoice) TotalAmount() money.Amount {
	return money.Amount{Minor: int64(in.Total), Currency: strings.ToUpper(in.Currency)}
}

// LineItem is one invoice line: Amount is the unit price, tax included.
type LineItem struct {
	Description string  `json:"description"`
	Quantity    int     `json:"quantity"`
	Amount      Decimal `json:"amount"`
	Total       Decimal `json:"total,omitempty"`
}

// NewInvoice is the body of POST /invoices.
type NewInvoice struct {
	Currency   string     `json:"currency"`
	CustomerID string     `json:"customer_id"`
	DueDate    string     `json:"due_date"` // 2006-01-02
	LineItems  []LineItem `json:"line_items"`
	Memo       string     `json:"memo,omitempty"`
}

// CheckoutToken is a checkout JWT for one customer and one invoice. It is
// meant for the browser; it is still a Secret so it never reaches a log.
type CheckoutToken struct {
	Token     secret.Secret
	ExpiresAt time.Time
}

// CreateCustomer is POST /customers.
func (c *Client) CreateCustomer(ctx context.Context, n NewCustomer) (Customer, error) {
	var out Customer
	err := c.do(ctx, call{op: "create_customer", method: http.MethodPost, path: "/customers", tmpl: "/customers", body: n}, &out)
	return out, err
}

// GetCustomer is GET /customers/{id}.
func (c *Client) GetCustomer(ctx context.Context, id string) (Customer, error) {
	var out Customer
	err := c.do(ctx, call{op: "get_customer", method: http.MethodGet, path: "/customers/" + url.PathEscape(id), tmpl: "/customers/{id}"}, &out)
	return out, err
}

// MaxCustomerPages bounds FindCustomerByExternalID's walk: 100 customers a
// page, so 5,000 customers. The search runs inside a checkout request; a
// longer list (or one whose cursor never ends) must not hold it.
const MaxCustomerPages = 50

// FindCustomerByExternalID pages through GET /customers for externalID. The
// list has no external_id filter in the docs, so this walks the cursor, for
// MaxCustomerPages pages at most.
func (c *Client) FindCustomerByExternalID(ctx context.Context, externalID string) (Customer, error) {
	after := ""
	for page := 1; ; page++ {
		if page > MaxCustomerPages {
			// Not KindNotFound: the customer may exist further on.
			return Customer{}, &Error{Op: "list_customers", Kind: KindUnavailable,
				Message: fmt.Sprintf("external_id %q is not in the first %d pages of customers", externalID, MaxCustomerPages)}
		}
		path := "/customers?limit=100"
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		var page struct {
			Data        []Customer `json:"data"`
			EndCursor   string     `json:"end_cursor"`
			HasNextPage bool       `json:"has_next_page"`
		}
		if err := c.do(ctx, call{op: "list_customers", method: http.MethodGet, path: path, tmpl: "/customers"}, &page); err != nil {
			return Customer{}, err
		}
		for _, cu := range page.Data {
			if cu.ExternalID == externalID {
				return cu, nil
			}
		}
		if !page.HasNextPage || page.EndCursor == "" || page.EndCursor == after {
			return Customer{}, &Error{Op: "list_customers", Kind: KindNotFound, Message: fmt.Sprintf("no customer has external_id %q", externalID)}
		}
		after = page.EndCursor
	}
}

// EnsureCustomer creates the customer, or finds it when its external_id is
// already used: a retried POST whose first answer was lost, or a second tab.
func (c *Client) EnsureCustomer(ctx context.Context, n NewCustomer) (Customer, error) {
	cu, err := c.CreateCustomer(ctx, n)
	if err == nil || n.ExternalID == "" || !isExternalIDTaken(err) {
		return cu, err
	}
	return c.FindCustomerByExternalID(ctx, n.ExternalID)
}

// isExternalIDTaken recognises 400 "This external id is already used"
// (observed by a third party; the sandbox also names the field).
func isExternalIDTaken(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
		return false
	}
	_, field := e.ValidationErrors["external_id"]
	return field || strings.Contains(strings.ToLower(e.Message), "external id is already used")
}

// CreateInvoice is POST /invoices. idempotencyKey, derived from the shop's
// order and reused on retries, goes in an Idempotency-Key header.
// The docs show the header on the checkout API's payments only
// (https://docs.alternativepayments.io/api-reference/checkout); if /invoices
// ignores it a retried POST could make two invoices, which is why the shop
// also stores the invoice id and never asks again once it has one.
func (c *Client) CreateInvoice(ctx context.Context, n NewInvoice, idempotencyKey string) (Invoice, error) {
	var out Invoice
	h := http.Header{}
	if idempotencyKey != "" {
		h.Set("Idempotency-Key", idempotencyKey)
	}
	err := c.do(ctx, call{op: "create_invoice", method: http.MethodPost, path: "/invoices", tmpl: "/invoices", body: n, header: h}, &out)
	return out, err
}

// GetInvoice is GET /invoices/{id}: the shop's server-side check of whether
// an invoice is paid. An unknown invoice is a KindNotFound error
// (errors.Is(err, ErrNotFound)).
func (c *Client) GetInvoice(ctx context.Context, id string) (Invoice, error) {
	var out Invoice
	err := c.do(ctx, call{op: "get_invoice", method: http.MethodGet, path: "/invoices/" + url.PathEscape(id), tmpl: "/invoices/{id}"}, &out)
	return out, err
}

const (
	authPathV1   = "/v1/checkout-auth/init"
	authPathNoV1 = "/checkout-auth/init"
)

// CheckoutToken is POST /v1/checkout-auth/init {customer_id, invoice_id} ->
// {token, expires_at}. When the /v1 path answers 404 the client tries the
// path without /v1 and keeps using whichever answered.
func (c *Client) CheckoutToken(ctx context.Context, customerID, invoiceID string) (CheckoutToken, error) {
	body := map[string]string{"customer_id": customerID, "invoice_id": invoiceID}
	path := authPathV1
	if p := c.authPath.Load(); p != nil {
		path = *p
	}
	var out struct {
		Token     string    `json:"token"`
		ExpiresAt unixOrRFC `json:"expires_at"`
	}
	err := c.do(ctx, call{op: "checkout_auth_init", method: http.MethodPost, path: path, tmpl: path, body: body}, &out)
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound && path == authPathV1 {
		path = authPathNoV1
		err = c.do(ctx, call{op: "checkout_auth_init", method: http.MethodPost, path: path, tmpl: path, body: body}, &out)
	}
	if err != nil {
		return CheckoutToken{}, err
	}
	c.authPath.Store(&path)
	if out.Token == "" {
		return CheckoutToken{}, &Error{Op: "checkout_auth_init", Kind: KindUnavailable, Message: "the reply has no token"}
	}
	return CheckoutToken{Token: secret.New(out.Token), ExpiresAt: time.Time(out.ExpiresAt)}, nil
}

// unixOrRFC reads expires_at: Unix seconds as the web SDK README's example
// shows, or an RFC 3339 string, which a client should tolerate.
type unixOrRFC time.Time

func (u *unixOrRFC) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		*u = unixOrRFC(time.Unix(int64(n), 0).UTC())
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("altpay: expires_at %s is neither Unix seconds nor RFC 3339", b)
	}
	*u = unixOrRFC(t)
	return nil
}
