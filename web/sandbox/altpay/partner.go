package altpay

import (
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	"refshop/web/sandbox/exchanges"
)

type customer struct {
	ID, Name, Email, ExternalID string
	DefaultPM                   string
	CreatedAt                   time.Time
}

// customerReply is the API reference's CustomerReply
// (https://docs.alternativepayments.io/api-reference/customers); the address
// and company fields the shop never sets are null.
type customerReply struct {
	ID                     string    `json:"id"`
	Name                   string    `json:"name"`
	Email                  string    `json:"email"`
	ExternalID             *string   `json:"external_id"`
	CreatedAt              time.Time `json:"created_at"`
	DefaultPaymentMethodID *string   `json:"default_payment_method_id"`
	City                   *string   `json:"city"`
	Country                *string   `json:"country"`
	PostalCode             *string   `json:"postal_code"`
	State                  *string   `json:"state"`
	StreetAddress          *string   `json:"street_address"`
	SubPremise             *string   `json:"sub_premise"`
	LegalName              *string   `json:"legal_name"`
	EIN                    *string   `json:"ein"`
	CustomerIntegrationID  *string   `json:"customer_integration_id"`
}

func (c *customer) reply() customerReply {
	return customerReply{ID: c.ID, Name: c.Name, Email: c.Email, ExternalID: ptr(c.ExternalID),
		CreatedAt: c.CreatedAt.UTC(), DefaultPaymentMethodID: ptr(c.DefaultPM)}
}

func ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// createCustomer is POST /customers {email, external_id, name} -> 201.
// external_id is unique per partner: a second use is 400 "This external id is
// already used" (observed by a third party).
func (p *provider) createCustomer(w http.ResponseWriter, r *http.Request) {
	if p.st.Hit(w, r, opCreateCustomer) || !p.authorized(w, r) {
		return
	}
	var body struct {
		Email      string `json:"email"`
		ExternalID string `json:"external_id"`
		Name       string `json:"name"`
	}
	if !decode(w, r, &body) {
		return
	}
	errs := map[string]string{}
	body.Name = strings.TrimSpace(body.Name)
	body.Email = strings.TrimSpace(body.Email)
	if body.Name == "" {
		errs["name"] = "name is required"
	}
	if a, err := mail.ParseAddress(body.Email); err != nil || a.Address != body.Email {
		errs["email"] = "email must be a valid email address"
	}
	if len(errs) > 0 {
		validation(w, errs)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if body.ExternalID != "" {
		for _, c := range p.customers {
			if c.ExternalID == body.ExternalID {
				writeError(w, http.StatusBadRequest, "bad_request", "This external id is already used",
					map[string]string{"external_id": "This external id is already used"})
				return
			}
		}
	}
	c := &customer{ID: newID("cus"), Name: body.Name, Email: body.Email, ExternalID: body.ExternalID, CreatedAt: p.st.Now()}
	p.customers[c.ID] = c
	p.order = append(p.order, c.ID)
	writeJSON(w, http.StatusCreated, c.reply())
}

func (p *provider) getCustomer(w http.ResponseWriter, r *http.Request) {
	if p.st.Hit(w, r, opGetCustomer) || !p.authorized(w, r) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.customers[r.PathValue("id")]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "Customer not found", nil)
		return
	}
	writeJSON(w, http.StatusOK, c.reply())
}

// listCustomers is GET /customers with the documented cursor: limit (default
// 100), after, before; the cursors are customer ids.
func (p *provider) listCustomers(w http.ResponseWriter, r *http.Request) {
	if p.st.Hit(w, r, opListCustomers) || !p.authorized(w, r) {
		return
	}
	q := r.URL.Query()
	errs := map[string]string{}
	limit := pageLimit(q, errs)
	if len(errs) > 0 {
		validation(w, errs)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	start, end, ok := cursorWindow(w, p.order, q.Get("after"), q.Get("before"), limit)
	if !ok {
		return
	}
	page := struct {
		Data            []customerReply `json:"data"`
		StartCursor     *string         `json:"start_cursor"`
		EndCursor       *string         `json:"end_cursor"`
		HasNextPage     bool            `json:"has_next_page"`
		HasPreviousPage bool            `json:"has_previous_page"`
	}{Data: []customerReply{}, HasNextPage: end < len(p.order), HasPreviousPage: start > 0}
	for _, id := range p.order[start:end] {
		page.Data = append(page.Data, p.customers[id].reply())
	}
	if start < end {
		page.StartCursor, page.EndCursor = ptr(p.order[start]), ptr(p.order[end-1])
	}
	writeJSON(w, http.StatusOK, page)
}

func indexOf(ids []string, id string) int {
	for i, v := range ids {
		if v == id {
			return i
		}
	}
	return -1
}

// Invoice statuses (SDK types).
const (
	statusUpcoming = "UPCOMING"
	statusOverdue  = "OVERDUE"
	statusPaid     = "PAID"
)

// invoiceCurrencies is the API reference's enum for an invoice's currency
// (https://docs.alternativepayments.io/api-reference/invoices): USD only.
var invoiceCurrencies = map[string]bool{"USD": true}

type invoice struct {
	ID, CustomerID, Number, Currency, DueDate, Memo string
	Status                                          string // UPCOMING or PAID; OVERDUE is derived
	Lines                                           []lineItem
	Total                                           decimal
	CreatedAt, UpdatedAt                            time.Time
}

type lineItem struct {
	Description string  `json:"description"`
	Quantity    int64   `json:"quantity"`
	Amount      decimal `json:"amount"`
	Total       decimal `json:"total"`
}

type invoiceReply struct {
	ID                 string     `json:"id"`
	CustomerID         string     `json:"customer_id"`
	InvoiceNumber      string     `json:"invoice_number"`
	Status             string     `json:"status"`
	Currency           string     `json:"currency"`
	DueDate            string     `json:"due_date"`
	SubTotal           decimal    `json:"sub_total"`
	Total              decimal    `json:"total"`
	Memo               *string    `json:"memo"`
	LastNotificationAt *time.Time `json:"last_notification_at"`
	LineItems          []lineItem `json:"line_items"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
}

// reply is the invoice as the API shows it at now: an unpaid invoice past its
// due date reads OVERDUE.
func (in *invoice) reply(now time.Time) invoiceReply {
	status := in.Status
	if status == statusUpcoming && now.UTC().Format(time.DateOnly) > in.DueDate {
		status = statusOverdue
	}
	// Prices are tax-included line amounts, so sub_total equals total: the
	// sandbox keeps no separate tax lines.
	return invoiceReply{ID: in.ID, CustomerID: in.CustomerID, InvoiceNumber: in.Number, Status: status,
		Currency: in.Currency, DueDate: in.DueDate, SubTotal: in.Total, Total: in.Total, Memo: ptr(in.Memo),
		LineItems: in.Lines, CreatedAt: in.CreatedAt.UTC(), UpdatedAt: in.UpdatedAt.UTC()}
}

// createInvoice is POST /invoices {currency, customer_id, due_date,
// line_items:[{amount, description, quantity}], memo?} -> 201 Invoice.
//
// Refusals follow the documented error table: a body that is not JSON, or a
// field missing or malformed, is 400 (HttpError with one message per field);
// a well-formed invoice that breaks a business rule (a currency outside the
// enum, which documents USD only) is 422 Unprocessable Entity, the same
// HttpError shape. The code string of a 422 is not documented; the sandbox
// writes "unprocessable_entity".
//
// POST /invoices is not documented as idempotent and no Idempotency-Key is
// documented for it: the sandbox makes a new invoice on every call, header or
// not, so a client that retries blindly gets two invoices here as it would at
// the real API. memo is a field of the documented Invoice (the answer) but not
// of the documented create body; the sandbox keeps it when sent
// (INFERENCE).
func (p *provider) createInvoice(w http.ResponseWriter, r *http.Request) {
	if p.st.Hit(w, r, opCreateInvoice) || !p.authorized(w, r) {
		return
	}
	var body struct {
		Currency   string `json:"currency"`
		CustomerID string `json:"customer_id"`
		DueDate    string `json:"due_date"`
		Memo       string `json:"memo"`
		LineItems  []struct {
			Amount      *decimal `json:"amount"`
			Description string   `json:"description"`
			Quantity    *float64 `json:"quantity"`
		} `json:"line_items"`
	}
	if !decode(w, r, &body) {
		return
	}
	errs, rules := map[string]string{}, map[string]string{}
	switch {
	case body.Currency == "":
		// The reference marks every body field optional but shows no
		// default: the sandbox asks for the currency (INFERENCE).
		errs["currency"] = "currency is required"
	case !invoiceCurrencies[body.Currency]:
		rules["currency"] = "currency must be USD"
	}
	if _, err := time.Parse(time.DateOnly, body.DueDate); err != nil {
		errs["due_date"] = "due_date must be a date such as 2025-01-01"
	}
	if len(body.LineItems) == 0 {
		errs["line_items"] = "at least one line item is required"
	}
	in := &invoice{Currency: body.Currency, CustomerID: body.CustomerID, DueDate: body.DueDate, Memo: body.Memo, Status: statusUpcoming}
	for i, l := range body.LineItems {
		f := fmt.Sprintf("line_items[%d]", i)
		switch {
		case strings.TrimSpace(l.Description) == "":
			errs[f+".description"] = "description is required"
		case l.Amount == nil || *l.Amount <= 0:
			errs[f+".amount"] = "amount must be greater than 0"
		case l.Quantity == nil || *l.Quantity < 1 || *l.Quantity != float64(int64(*l.Quantity)):
			errs[f+".quantity"] = "quantity must be a whole number of at least 1"
		default:
			q := int64(*l.Quantity)
			in.Lines = append(in.Lines, lineItem{Description: l.Description, Quantity: q, Amount: *l.Amount, Total: *l.Amount * decimal(q)})
			in.Total += *l.Amount * decimal(q)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.customers[body.CustomerID]; !ok {
		errs["customer_id"] = "customer not found"
	}
	switch {
	case len(errs) > 0:
		validation(w, errs)
		return
	case len(rules) > 0:
		unprocessable(w, rules)
		return
	}
	now := p.st.Now()
	p.nextInv++
	in.ID, in.Number, in.CreatedAt, in.UpdatedAt = newID("inv"), fmt.Sprintf(invoiceNumberTemplate, p.nextInv), now, now
	p.invoices[in.ID] = in
	p.invOrder = append(p.invOrder, in.ID)
	writeJSON(w, http.StatusCreated, in.reply(now))
}

// listInvoices is GET /invoices, the API reference's listInvoices: the
// documented filters customer_id, status, created_at_start/created_at_end and
// due_date_start/due_date_end (RFC 3339; the bounds are inclusive, which the
// docs do not say), and the cursor (limit, default 100; after; before; the
// cursors are invoice ids). The answer is the reference's
// PaginatedResponse-Invoice, its cursor fields at the top level; the
// quick-start guide shows list answers with them nested under "pagination"
// instead, which the shop's client also reads.
func (p *provider) listInvoices(w http.ResponseWriter, r *http.Request) {
	if p.st.Hit(w, r, opListInvoices) || !p.authorized(w, r) {
		return
	}
	q := r.URL.Query()
	errs := map[string]string{}
	limit := pageLimit(q, errs)
	bound := func(name string) time.Time {
		s := q.Get(name)
		if s == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			errs[name] = name + " must be an RFC 3339 time such as 2025-01-01T00:00:00Z"
		}
		return t
	}
	createdFrom, createdTo := bound("created_at_start"), bound("created_at_end")
	dueFrom, dueTo := bound("due_date_start"), bound("due_date_end")
	if len(errs) > 0 {
		validation(w, errs)
		return
	}
	customerID, status := q.Get("customer_id"), q.Get("status")
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.st.Now()
	var ids []string // the invoices that pass the filters, oldest first
	for _, id := range p.invOrder {
		in := p.invoices[id]
		due, _ := time.Parse(time.DateOnly, in.DueDate)
		rep := in.reply(now)
		switch {
		case customerID != "" && in.CustomerID != customerID,
			status != "" && !strings.EqualFold(rep.Status, status),
			!createdFrom.IsZero() && in.CreatedAt.Before(createdFrom),
			!createdTo.IsZero() && in.CreatedAt.After(createdTo),
			!dueFrom.IsZero() && due.Before(dueFrom.UTC().Truncate(24*time.Hour)),
			!dueTo.IsZero() && due.After(dueTo):
			continue
		}
		ids = append(ids, id)
	}
	start, end, ok := cursorWindow(w, ids, q.Get("after"), q.Get("before"), limit)
	if !ok {
		return
	}
	page := struct {
		Data            []invoiceReply `json:"data"`
		StartCursor     *string        `json:"start_cursor"`
		EndCursor       *string        `json:"end_cursor"`
		HasNextPage     bool           `json:"has_next_page"`
		HasPreviousPage bool           `json:"has_previous_page"`
	}{Data: []invoiceReply{}, HasNextPage: end < len(ids), HasPreviousPage: start > 0}
	for _, id := range ids[start:end] {
		page.Data = append(page.Data, p.invoices[id].reply(now))
	}
	if start < end {
		page.StartCursor, page.EndCursor = ptr(ids[start]), ptr(ids[end-1])
	}
	writeJSON(w, http.StatusOK, page)
}

// cursorWindow is the part [start:end) of ids one page shows: after the
// cursor after, or the limit before the cursor before. An unknown cursor is
// a 400, answered here (ok false).
func cursorWindow(w http.ResponseWriter, ids []string, after, before string, limit int) (start, end int, ok bool) {
	start, end = 0, len(ids)
	if after != "" {
		start = indexOf(ids, after) + 1
		if start == 0 {
			validation(w, map[string]string{"after": "unknown cursor"})
			return 0, 0, false
		}
	}
	if before != "" {
		end = indexOf(ids, before)
		if end < 0 {
			validation(w, map[string]string{"before": "unknown cursor"})
			return 0, 0, false
		}
		if end-start > limit {
			start = end - limit
		}
	}
	if end-start > limit {
		end = start + limit
	}
	return start, end, true
}

// getInvoice is GET /invoices/{id}. INFERENCE: the docs list POST /invoices
// and /invoices/{id}/payment-link; a GET by id is the usual REST shape.
func (p *provider) getInvoice(w http.ResponseWriter, r *http.Request) {
	if p.st.Hit(w, r, opGetInvoice) || !p.authorized(w, r) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	in, ok := p.invoices[r.PathValue("id")]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "Invoice not found", nil)
		return
	}
	writeJSON(w, http.StatusOK, in.reply(p.st.Now()))
}

// checkoutAuthInit is POST /v1/checkout-auth/init {customer_id, invoice_id}
// -> {token, expires_at}: a checkout JWT for that customer and invoice.
// 400 "invalid invoice id" when the invoice is missing, unknown or another
// customer's (the third-party report says invoice_id is required).
func (p *provider) checkoutAuthInit(w http.ResponseWriter, r *http.Request) {
	if p.st.Hit(w, r, opCheckoutAuthInit) || !p.authorized(w, r) {
		return
	}
	var body struct {
		CustomerID string `json:"customer_id"`
		InvoiceID  string `json:"invoice_id"`
	}
	if !decode(w, r, &body) {
		return
	}
	exchanges.Ref(r.Context(), body.InvoiceID)
	p.mu.Lock()
	_, custOK := p.customers[body.CustomerID]
	in, invOK := p.invoices[body.InvoiceID]
	key := p.key
	p.mu.Unlock()
	switch {
	case !custOK:
		writeError(w, http.StatusBadRequest, "bad_request", "invalid customer id", map[string]string{"customer_id": "customer not found"})
		return
	case !invOK || in.CustomerID != body.CustomerID:
		writeError(w, http.StatusBadRequest, "bad_request", "invalid invoice id", map[string]string{"invoice_id": "no such invoice for this customer"})
		return
	}
	tok, exp, err := mintCheckoutToken(key, checkoutClaims{
		PartnerID: partnerID, ClientID: p.st.Config.Altpay.ClientID, CustomerID: body.CustomerID, InvoiceID: body.InvoiceID,
	}, p.st.Now(), p.st.Settings().AltpayCheckoutTokenTTL.D())
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal_error", "could not sign the token", nil)
		return
	}
	exchanges.RefToken(r.Context(), tok) // the snippet's calls present it
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "expires_at": exp.Unix()})
}

// pageLimit is a list's documented limit query parameter: 1 to 100,
// default 100. A bad one is named in errs.
func pageLimit(q url.Values, errs map[string]string) int {
	s := q.Get("limit")
	if s == "" {
		return 100
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 100 {
		errs["limit"] = "limit must be between 1 and 100"
	}
	return n
}
