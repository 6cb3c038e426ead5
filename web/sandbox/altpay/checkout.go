package altpay

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"refshop/web/sandbox/exchanges"
)

// The checkout API, as the published browser SDK calls it: what the snippet
// calls with "Authorization: Bearer <checkout JWT>". Every call checks the
// token's signature, its expiry on the sandbox clock (401) and its scope (403).
//
// Scope, a choice: the SDK's GET /checkout/invoice names no invoice, the token
// is the scope. NOT FOUND how the real API refuses a call about another
// invoice; the sandbox accepts an optional ?invoice_id= on every checkout call
// and answers 403 when it names an invoice other than the token's (the shop's
// snippet sends it when created with invoiceId), and 403 when a payment names
// another customer's payment method.
//
// Not emulated: pdf-link, card CVV re-collection, the Evervault card-form
// credentials and the address autocomplete proxy. Cards are added with the
// test card tokens below instead of an Evervault-encrypted card.
func (p *provider) checkoutRoutes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /altpay/checkout/preferences/theme", p.theme)
	// The SDK calls /checkout/invoice, the API reference lists
	// /checkout/v1/invoice. The sources disagree, so both are served.
	mux.HandleFunc("GET /altpay/checkout/invoice", p.checkoutInvoice)
	mux.HandleFunc("GET /altpay/checkout/v1/invoice", p.checkoutInvoice)
	mux.HandleFunc("GET /altpay/checkout/payment-methods", p.listPaymentMethods)
	mux.HandleFunc("POST /altpay/checkout/payment-methods/card", p.addCard)
	mux.HandleFunc("POST /altpay/checkout/payment-methods/bank", p.addBank)
	mux.HandleFunc("POST /altpay/checkout/payments", p.createPayment)
	mux.HandleFunc("/altpay/checkout/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "No such checkout endpoint", nil)
	})
	return mux
}

// checkoutCall is what every checkout API call goes through first: the
// fault hook for op, then the checkout token and its scope. It returns the
// token's claims; it writes the error and returns false when the call must
// stop. The caller must not hold p.mu.
func (p *provider) checkoutCall(w http.ResponseWriter, r *http.Request, op string) (checkoutClaims, bool) {
	p.refCheckoutToken(r)
	if p.st.Hit(w, r, op) {
		return checkoutClaims{}, false
	}
	tok, ok := bearer(r)
	p.mu.Lock()
	key := p.key
	p.mu.Unlock()
	if !ok {
		writeError(w, http.StatusUnauthorized, "unauthorized", "Missing checkout token", nil)
		return checkoutClaims{}, false
	}
	c, err := verifyCheckoutToken(key, tok, p.st.Now())
	switch {
	case errors.Is(err, errTokenExpired):
		writeError(w, http.StatusUnauthorized, "token_expired", "Access token has expired", nil)
		return c, false
	case err != nil:
		writeError(w, http.StatusUnauthorized, "invalid_token", "Invalid checkout token", nil)
		return c, false
	case c.ClientID != p.st.Config.Altpay.ClientID:
		writeError(w, http.StatusUnauthorized, "invalid_token", "Invalid checkout token", nil)
		return c, false
	}
	if id := r.URL.Query().Get("invoice_id"); id != "" && id != c.InvoiceID {
		writeError(w, http.StatusForbidden, "forbidden", "This checkout token is not valid for that invoice", nil)
		return c, false
	}
	return c, true
}

// refCheckoutToken links the recorded exchange to the invoice its checkout
// token was issued for, an expired token's too: the snippet's 401 and the
// renewal after it belong to that invoice's order.
func (p *provider) refCheckoutToken(r *http.Request) {
	tok, ok := bearer(r)
	if !ok {
		return
	}
	p.mu.Lock()
	key := p.key
	p.mu.Unlock()
	if c, err := verifyCheckoutToken(key, tok, p.st.Now()); err == nil || errors.Is(err, errTokenExpired) {
		exchanges.Ref(r.Context(), c.InvoiceID)
	}
}

func (p *provider) theme(w http.ResponseWriter, r *http.Request) {
	if _, ok := p.checkoutCall(w, r, opCheckoutTheme); !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"partner_name": "Refshop (sandbox partner)"})
}

func (p *provider) checkoutInvoice(w http.ResponseWriter, r *http.Request) {
	c, ok := p.checkoutCall(w, r, opCheckoutInvoice)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	in, ok := p.invoices[c.InvoiceID]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "Invoice not found", nil)
		return
	}
	writeJSON(w, http.StatusOK, in.reply(p.st.Now()))
}

type paymentMethod struct {
	ID         string `json:"id"`
	Type       string `json:"type"` // card or ach
	Last4      string `json:"last4"`
	Default    bool   `json:"default"`
	Brand      string `json:"brand,omitempty"`
	ExpMonth   int    `json:"exp_month,omitempty"`
	ExpYear    int    `json:"exp_year,omitempty"`
	customerID string
	declines   bool
}

func (p *provider) listPaymentMethods(w http.ResponseWriter, r *http.Request) {
	c, ok := p.checkoutCall(w, r, opCheckoutPMs)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	list := []paymentMethod{}
	for _, pm := range p.methods {
		if pm.customerID == c.CustomerID {
			list = append(list, *pm)
		}
	}
	// Stable order: the default first, then by id.
	sortMethods(list)
	writeJSON(w, http.StatusOK, map[string]any{"data": list})
}

func sortMethods(l []paymentMethod) {
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && less(l[j], l[j-1]); j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
}

func less(a, b paymentMethod) bool {
	if a.Default != b.Default {
		return a.Default
	}
	return a.ID < b.ID
}

// testCard is what a test card token stands for. In the real checkout an
// Evervault form turns the card into card_provider_token in the browser;
// the sandbox accepts these documented test tokens instead.
type testCard struct {
	brand, last4 string
	declines     bool
}

// testCards are the card_provider_token values the sandbox accepts.
var testCards = map[string]testCard{
	"tok_test_visa":       {brand: "visa", last4: "4242"},
	"tok_test_mastercard": {brand: "mastercard", last4: "4444"},
	"tok_test_declined":   {brand: "visa", last4: "0002", declines: true}, // payments with it fail
}

func (p *provider) addCard(w http.ResponseWriter, r *http.Request) {
	c, ok := p.checkoutCall(w, r, opCheckoutAddPM)
	if !ok {
		return
	}
	var body struct {
		CardProviderToken string `json:"card_provider_token"`
		Provider          string `json:"provider"`
		Address           *struct {
			City          string `json:"city"`
			Country       string `json:"country"`
			CountryCode   string `json:"country_code"`
			PostalCode    string `json:"postal_code"`
			State         string `json:"state"`
			StateCode     string `json:"state_code"`
			StreetAddress string `json:"street_address"`
		} `json:"address"`
	}
	if !decode(w, r, &body) {
		return
	}
	errs := map[string]string{}
	card, known := testCards[body.CardProviderToken]
	if !known {
		errs["card_provider_token"] = "unknown card token; the sandbox accepts tok_test_visa, tok_test_mastercard, tok_test_declined"
	}
	if body.Provider != "evervault" {
		errs["provider"] = `provider must be "evervault"`
	}
	if a := body.Address; a == nil {
		errs["address"] = "address is required"
	} else {
		req := map[string]string{"street_address": a.StreetAddress, "city": a.City, "postal_code": a.PostalCode}
		for f, v := range req {
			if strings.TrimSpace(v) == "" {
				errs["address."+f] = f + " is required"
			}
		}
		if !countryCode.MatchString(a.CountryCode) {
			errs["address.country_code"] = "country_code must be a two-letter ISO 3166 code"
		}
	}
	if len(errs) > 0 {
		validation(w, errs)
		return
	}
	exp := p.st.Now().AddDate(3, 0, 0)
	p.addMethod(w, c.CustomerID, paymentMethod{Type: "card", Brand: card.brand, Last4: card.last4,
		ExpMonth: int(exp.Month()), ExpYear: exp.Year(), declines: card.declines})
}

var (
	countryCode = regexp.MustCompile(`^[A-Z]{2}$`)
	digits      = regexp.MustCompile(`^[0-9]+$`)
)

// addBank adds a US or Canadian bank account. Test values: US routing
// 011000015 with any 4 to 17 digit account number; CA institution 001,
// transit 00011, any 7 to 12 digit account number. US routing numbers must
// pass the ABA checksum, as the real network checks.
func (p *provider) addBank(w http.ResponseWriter, r *http.Request) {
	c, ok := p.checkoutCall(w, r, opCheckoutAddPM)
	if !ok {
		return
	}
	var body struct {
		AccountDataType string `json:"account_data_type"`
		InstitutionName string `json:"institution_name"`
		ReceiverName    string `json:"receiver_name"`
		Subtype         string `json:"subtype"`
		Type            string `json:"type"`
		US              *struct {
			AccountNumber string `json:"account_number"`
			RoutingNumber string `json:"routing_number"`
		} `json:"us_account_data"`
		CA *struct {
			AccountNumber   string `json:"account_number"`
			InstitutionCode string `json:"institution_code"`
			TransitNumber   string `json:"transit_number"`
		} `json:"ca_account_data"`
	}
	if !decode(w, r, &body) {
		return
	}
	errs := map[string]string{}
	if strings.TrimSpace(body.InstitutionName) == "" {
		errs["institution_name"] = "institution_name is required"
	}
	if strings.TrimSpace(body.ReceiverName) == "" {
		errs["receiver_name"] = "receiver_name is required"
	}
	if body.Subtype != "checkings" && body.Subtype != "savings" {
		errs["subtype"] = `subtype must be "checkings" or "savings"`
	}
	if body.Type != "depository" {
		errs["type"] = `type must be "depository"`
	}
	var account string
	switch body.AccountDataType {
	case "us":
		if body.US == nil {
			errs["us_account_data"] = "us_account_data is required for account_data_type us"
			break
		}
		account = body.US.AccountNumber
		if !digits.MatchString(account) || len(account) < 4 || len(account) > 17 {
			errs["us_account_data.account_number"] = "account_number must be 4 to 17 digits"
		}
		if !abaValid(body.US.RoutingNumber) {
			errs["us_account_data.routing_number"] = "routing_number must be a valid 9-digit ABA routing number"
		}
	case "ca":
		if body.CA == nil {
			errs["ca_account_data"] = "ca_account_data is required for account_data_type ca"
			break
		}
		account = body.CA.AccountNumber
		if !digits.MatchString(account) || len(account) < 7 || len(account) > 12 {
			errs["ca_account_data.account_number"] = "account_number must be 7 to 12 digits"
		}
		if !digits.MatchString(body.CA.InstitutionCode) || len(body.CA.InstitutionCode) != 3 {
			errs["ca_account_data.institution_code"] = "institution_code must be 3 digits"
		}
		if !digits.MatchString(body.CA.TransitNumber) || len(body.CA.TransitNumber) != 5 {
			errs["ca_account_data.transit_number"] = "transit_number must be 5 digits"
		}
	default:
		errs["account_data_type"] = `account_data_type must be "us" or "ca"`
	}
	if len(errs) > 0 {
		validation(w, errs)
		return
	}
	p.addMethod(w, c.CustomerID, paymentMethod{Type: "ach", Last4: account[len(account)-4:]})
}

// abaValid checks a US routing number's checksum: 3, 7, 1 weights, sum
// divisible by 10.
func abaValid(s string) bool {
	if len(s) != 9 || !digits.MatchString(s) {
		return false
	}
	w := []int{3, 7, 1}
	sum := 0
	for i, ch := range s {
		sum += int(ch-'0') * w[i%3]
	}
	return sum%10 == 0
}

// addMethod stores pm for the customer; the first one becomes the default.
func (p *provider) addMethod(w http.ResponseWriter, customerID string, pm paymentMethod) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cust, ok := p.customers[customerID]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "Customer not found", nil)
		return
	}
	pm.ID, pm.customerID = newID("pm"), customerID
	if cust.DefaultPM == "" {
		cust.DefaultPM, pm.Default = pm.ID, true
	}
	p.methods[pm.ID] = &pm
	writeJSON(w, http.StatusCreated, pm)
}

type payment struct {
	ID, InvoiceID, MethodID, Kind, Status string
	Amount                                decimal
	request                               string // the request it answered, to spot a reused key
	status                                int
	reply                                 map[string]string
}

// createPayment is POST /checkout/payments with Idempotency-Key and
// {amount:"<string>", payment_date, payment_method, payment_method_id}.
//
// Choices (NOT FOUND in the docs): the Idempotency-Key header is required
// (the SDK always sends one); the same key with the same body answers the
// stored reply again without paying twice, with another body 409; the amount
// must equal the invoice total (partial payments are not emulated); payments
// settle at once, card and ACH alike, and the invoice becomes PAID (the real
// ACH rail takes days); a declined test card answers 200 {status:"failed"}.
func (p *provider) createPayment(w http.ResponseWriter, r *http.Request) {
	c, ok := p.checkoutCall(w, r, opCheckoutPayment)
	if !ok {
		return
	}
	key := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	var body struct {
		Amount          string `json:"amount"`
		PaymentDate     string `json:"payment_date"`
		PaymentMethod   string `json:"payment_method"`
		PaymentMethodID string `json:"payment_method_id"`
	}
	if !decode(w, r, &body) {
		return
	}
	errs := map[string]string{}
	if key == "" || len(key) > 255 {
		errs["Idempotency-Key"] = "the Idempotency-Key header is required (at most 255 characters)"
	}
	amount, amountOK := parseDecimal(body.Amount)
	if !amountOK || amount <= 0 {
		errs["amount"] = `amount must be a positive decimal string such as "19.90"`
	}
	if _, err := time.Parse(time.RFC3339, body.PaymentDate); err != nil {
		if _, err := time.Parse(time.DateOnly, body.PaymentDate); err != nil {
			errs["payment_date"] = "payment_date must be an ISO 8601 date or time"
		}
	}
	switch body.PaymentMethod {
	case "card", "standard_ach", "same_day_ach":
	case "manual":
		errs["payment_method"] = "manual payments cannot be made through checkout"
	default:
		errs["payment_method"] = "payment_method must be card, standard_ach or same_day_ach"
	}
	if body.PaymentMethodID == "" {
		errs["payment_method_id"] = "payment_method_id is required"
	}
	if len(errs) > 0 {
		validation(w, errs)
		return
	}
	request := strings.Join([]string{c.InvoiceID, amount.String(), body.PaymentDate, body.PaymentMethod, body.PaymentMethodID}, "|")

	p.mu.Lock()
	defer p.mu.Unlock()
	if prev, ok := p.payments[key]; ok {
		if prev.request != request {
			writeError(w, http.StatusConflict, "conflict", "This Idempotency-Key was already used for a different payment", nil)
			return
		}
		writeJSON(w, prev.status, prev.reply)
		return
	}
	in, ok := p.invoices[c.InvoiceID]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "Invoice not found", nil)
		return
	}
	pm, ok := p.methods[body.PaymentMethodID]
	switch {
	case !ok:
		validation(w, map[string]string{"payment_method_id": "payment method not found"})
		return
	case pm.customerID != c.CustomerID:
		writeError(w, http.StatusForbidden, "forbidden", "That payment method belongs to another customer", nil)
		return
	case (pm.Type == "card") != (body.PaymentMethod == "card"):
		validation(w, map[string]string{"payment_method": fmt.Sprintf("payment method %s is of type %s", pm.ID, pm.Type)})
		return
	case in.Status == statusPaid:
		writeError(w, http.StatusBadRequest, "bad_request", "Invoice is already paid", nil)
		return
	case amount != in.Total:
		validation(w, map[string]string{"amount": "amount must equal the invoice total " + in.Total.String()})
		return
	}
	pay := &payment{ID: newID("pay"), InvoiceID: in.ID, MethodID: pm.ID, Kind: body.PaymentMethod, Amount: amount,
		request: request, status: http.StatusOK}
	if pm.declines {
		pay.Status, pay.reply = "failed", map[string]string{"status": "failed", "message": "Your card was declined."}
	} else {
		pay.Status, pay.reply = "succeeded", map[string]string{"status": "succeeded", "message": "Payment received"}
		in.Status, in.UpdatedAt = statusPaid, p.st.Now()
		p.notifyPaid(in)
	}
	p.payments[key] = pay
	writeJSON(w, pay.status, pay.reply)
}
