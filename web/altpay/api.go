package altpay

import (
	"bytes"
	"cmp"
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
	Memo          string     `json:"memo"` // null reads as ""
	// CreatedAt is a string in the API reference's schema, with no format
	// given (its example says "text"): kept as sent, never parsed.
	CreatedAt string `json:"created_at"`
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

// NewInvoice is the body of POST /invoices. The documented body is currency
// (an enum whose only value is USD), customer_id, due_date and line_items.
// Memo is a field of the documented Invoice but not of the documented create
// body: the shop puts its own reference there (see FindInvoices).
type NewInvoice struct {
	Currency   string     `json:"currency"`
	CustomerID string     `json:"customer_id"`
	DueDate    string     `json:"due_date"` // 2006-01-02
	LineItems  []LineItem `json:"line_items"`
	Memo       string     `json:"memo,omitempty"`
}

// Page is one page of a list answer. The docs show two shapes, and
// UnmarshalJSON reads both: the API reference's, with the cursor fields at
// the top level ({data, start_cursor, end_cursor, has_next_page,
// has_previous_page}, PaginatedResponse-Invoice), and the quick-start
// guide's, with them nested ({data, pagination: {has_next_page,
// end_cursor}}, end_cursor null on the last page). A field given at the top
// level wins over the nested one.
type Page[T any] struct {
	Data            []T
	StartCursor     string
	EndCursor       string
	HasNextPage     bool
	HasPreviousPage bool
}

// pageCursors is the cursor fields of a list answer, wherever they are.
type pageCursors struct {
	StartCursor     *string `json:"start_cursor"`
	EndCursor       *string `json:"end_cursor"`
	HasNextPage     *bool   `json:"has_next_page"`
	HasPreviousPage *bool   `json:"has_previous_page"`
}

func (p *Page[T]) UnmarshalJSON(b []byte) error {
	var raw struct {
		Data []T `json:"data"`
		pageCursors
		Pagination *pageCursors `json:"pagination"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	c := raw.pageCursors
	if n := raw.Pagination; n != nil {
		c.StartCursor = cmp.Or(c.StartCursor, n.StartCursor)
		c.EndCursor = cmp.Or(c.EndCursor, n.EndCursor)
		c.HasNextPage = cmp.Or(c.HasNextPage, n.HasNextPage)
		c.HasPreviousPage = cmp.Or(c.HasPreviousPage, n.HasPreviousPage)
	}
	*p = Page[T]{Data: raw.Data}
	if c.StartCursor != nil {
		p.StartCursor = *c.StartCursor
	}
	if c.EndCursor != nil {
		p.EndCursor = *c.EndCursor
	}
	p.HasNextPage = c.HasNextPage != nil && *c.HasNextPage
	p.HasPreviousPage = c.HasPreviousPage != nil && *c.HasPreviousPage
	return nil
}

// next is the cursor of the page after p, or "" when p is the last: no next
// page, no cursor, or the cursor it was asked with (a list that does not
// move on).
func (p Page[T]) next(after string) string {
	if !p.HasNextPage || p.EndCursor == "" || p.EndCursor == after {
		return ""
	}
	return p.EndCursor
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
	for n := 1; ; n++ {
		if n > MaxCustomerPages {
			// Not KindNotFound: the customer may exist further on.
			return Customer{}, &Error{Op: "list_customers", Kind: KindUnavailable,
				Message: fmt.Sprintf("external_id %q is not in the first %d pages of customers", externalID, MaxCustomerPages)}
		}
		path := "/customers?limit=100"
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		var page Page[Customer]
		if err := c.do(ctx, call{op: "list_customers", method: http.MethodGet, path: path, tmpl: "/customers"}, &page); err != nil {
			return Customer{}, err
		}
		for _, cu := range page.Data {
			if cu.ExternalID == externalID {
				return cu, nil
			}
		}
		if after = page.next(after); after == "" {
			return Customer{}, &Error{Op: "list_customers", Kind: KindNotFound, Message: fmt.Sprintf("no customer has external_id %q", externalID)}
		}
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

// CreateInvoice is POST /invoices, sent once. The API does not document it
// as idempotent and documents no Idempotency-Key for it
// (https://docs.alternativepayments.io/invoices), so a second try after no
// answer or a 5xx could make a second invoice: the client never retries it.
// When the outcome is unknown (OutcomeUnknown), the caller looks the invoice
// up by its own reference (FindInvoices) before creating another one.
func (c *Client) CreateInvoice(ctx context.Context, n NewInvoice) (Invoice, error) {
	var out Invoice
	err := c.do(ctx, call{op: "create_invoice", method: http.MethodPost, path: "/invoices", tmpl: "/invoices", body: n, once: true}, &out)
	return out, err
}

// InvoiceFilter is the documented query of GET /invoices: every field is
// optional. The times travel as RFC 3339.
type InvoiceFilter struct {
	CustomerID                   string
	Status                       string
	CreatedAtStart, CreatedAtEnd time.Time
	DueDateStart, DueDateEnd     time.Time
	Limit                        int // 0: the API's default (100)
	After, Before                string
}

func (f InvoiceFilter) query() string {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	at := func(k string, t time.Time) {
		if !t.IsZero() {
			q.Set(k, t.UTC().Format(time.RFC3339))
		}
	}
	set("customer_id", f.CustomerID)
	set("status", f.Status)
	at("created_at_start", f.CreatedAtStart)
	at("created_at_end", f.CreatedAtEnd)
	at("due_date_start", f.DueDateStart)
	at("due_date_end", f.DueDateEnd)
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	set("after", f.After)
	set("before", f.Before)
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// ListInvoices is one page of GET /invoices.
func (c *Client) ListInvoices(ctx context.Context, f InvoiceFilter) (Page[Invoice], error) {
	var out Page[Invoice]
	err := c.do(ctx, call{op: "list_invoices", method: http.MethodGet, path: "/invoices" + f.query(), tmpl: "/invoices"}, &out)
	return out, err
}

// MaxInvoicePages bounds FindInvoices's walk, as MaxCustomerPages does the
// customers'.
const MaxInvoicePages = 20

// FindInvoices walks GET /invoices with the filter, from its first page, and
// returns the invoices match accepts. The list cannot filter on a reference
// of the caller's (the documented filters are customer, status, and the
// creation and due date ranges), so the caller narrows with the filter and
// recognises its invoice in match. A walk that stops at MaxInvoicePages is an
// error (not an empty result): the invoice may be further on.
func (c *Client) FindInvoices(ctx context.Context, f InvoiceFilter, match func(Invoice) bool) ([]Invoice, error) {
	var found []Invoice
	f.Before = ""
	for n := 1; ; n++ {
		if n > MaxInvoicePages {
			return nil, &Error{Op: "list_invoices", Kind: KindUnavailable,
				Message: fmt.Sprintf("the search did not end within %d pages of invoices", MaxInvoicePages)}
		}
		page, err := c.ListInvoices(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, in := range page.Data {
			if match(in) {
				found = append(found, in)
			}
		}
		if f.After = page.next(f.After); f.After == "" {
			return found, nil
		}
	}
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
