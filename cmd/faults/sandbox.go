package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// sandbox talks to one shop process's embedded sandbox: its control API
// (faults, clock, call counts, the stand-ins for Klarna's widget) and the
// emulated providers' own read endpoints, with the credentials the shop was
// given, as a merchant's support tool would. It never touches the shop's
// database.
type sandbox struct {
	url   string
	creds credentials
	http  *http.Client
}

func newSandbox(url string, creds credentials) *sandbox {
	return &sandbox{url: url, creds: creds, http: &http.Client{
		Timeout:       15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// sandboxState is the body of GET /control/state, as far as the suite reads it.
type sandboxState struct {
	Now    time.Time                  `json:"now"`
	Calls  map[string]int             `json:"calls"`
	Faults map[string]json.RawMessage `json:"faults"`
}

// faultSpec is the body of POST /control/faults.
type faultSpec struct {
	Operation  string `json:"operation"`
	Status     int    `json:"status,omitempty"`
	Times      int    `json:"times"`
	Delay      string `json:"delay,omitempty"`
	LoseAnswer bool   `json:"lose_answer,omitempty"`
}

// control sends a JSON request to the control API (always JSON with its
// Content-Type: the control API refuses anything else) and decodes the
// answer into out when out is not nil.
func (s *sandbox) control(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return &httpError{what: method + " " + path, status: res.StatusCode, body: string(b)}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %v", method, path, err)
		}
	}
	return nil
}

type httpError struct {
	what   string
	status int
	body   string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%s: %d %s", e.what, e.status, strings.TrimSpace(e.body))
}

func errStatus(err error) int {
	var e *httpError
	if errors.As(err, &e) {
		return e.status
	}
	return 0
}

func (s *sandbox) state(ctx context.Context) (sandboxState, error) {
	var st sandboxState
	err := s.control(ctx, http.MethodGet, "/control/state", nil, &st)
	return st, err
}

// calls is how often op was called since the sandbox started (or was reset).
func (s *sandbox) calls(ctx context.Context, op string) (int, error) {
	st, err := s.state(ctx)
	return st.Calls[op], err
}

// pendingTimes is how many of op's queued faults are still to come.
func (s *sandbox) pendingTimes(ctx context.Context, op string) (int, error) {
	st, err := s.state(ctx)
	if err != nil {
		return 0, err
	}
	raw, ok := st.Faults[op]
	if !ok {
		return 0, nil
	}
	var f struct {
		Times int `json:"times"`
	}
	err = json.Unmarshal(raw, &f)
	return f.Times, err
}

func (s *sandbox) arm(ctx context.Context, f faultSpec) error {
	return s.control(ctx, http.MethodPost, "/control/faults", f, nil)
}

// clear drops op's queued faults. The design names DELETE
// /control/faults/{operation}; a sandbox without it gets a fault that changes
// nothing in their place (status 0, no delay), which the next call uses up.
func (s *sandbox) clear(ctx context.Context, op string) error {
	err := s.control(ctx, http.MethodDelete, "/control/faults/"+url.PathEscape(op), nil, nil)
	if st := errStatus(err); st == http.StatusNotFound || st == http.StatusMethodNotAllowed {
		return s.arm(ctx, faultSpec{Operation: op, Times: 1})
	}
	return err
}

// advance moves the sandbox clock forward.
func (s *sandbox) advance(ctx context.Context, d time.Duration) error {
	return s.control(ctx, http.MethodPost, "/control/clock", map[string]string{"advance": d.String()}, nil)
}

func (s *sandbox) settings(ctx context.Context, changes map[string]any) error {
	return s.control(ctx, http.MethodPost, "/control/settings", changes, nil)
}

// klarnaAuthorize is what Klarna's widget does when the customer approves
// the session: it answers the authorization token.
func (s *sandbox) klarnaAuthorize(ctx context.Context, sessionID string, link bool) (string, error) {
	var out struct {
		Token string `json:"authorization_token"`
	}
	err := s.control(ctx, http.MethodPost, "/control/klarna/sessions/"+url.PathEscape(sessionID)+"/authorize",
		map[string]any{"link_account": link}, &out)
	return out.Token, err
}

// klarnaRevokeGrants revokes every Sign in with Klarna grant of an identity,
// as the customer would in the Klarna app, and answers how many there were.
func (s *sandbox) klarnaRevokeGrants(ctx context.Context, email string) (int, error) {
	var out struct {
		Revoked int `json:"revoked"`
	}
	err := s.control(ctx, http.MethodPost, "/control/klarna/login/revoke", map[string]string{"email": email}, &out)
	return out.Revoked, err
}

// api sends a request to a provider API and decodes a JSON answer. It
// returns the status; err is set for a transport error or an unreadable
// 2xx body.
func (s *sandbox) api(ctx context.Context, req *http.Request, out any) (int, error) {
	res, err := s.http.Do(req.WithContext(ctx))
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode < 300 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: %v", req.Method, req.URL.Path, err)
		}
	}
	if res.StatusCode >= 300 && res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusSeeOther {
		return res.StatusCode, &httpError{what: req.Method + " " + req.URL.Path, status: res.StatusCode, body: string(b)}
	}
	return res.StatusCode, nil
}

// --- Vipps MobilePay ---

type vippsMoney struct {
	Value int64 `json:"value"`
}

// vippsPayment is what GET /epayment/v1/payments/{reference} tells a merchant.
type vippsPayment struct {
	State     string `json:"state"`
	Aggregate struct {
		Authorized vippsMoney `json:"authorizedAmount"`
		Cancelled  vippsMoney `json:"cancelledAmount"`
		Captured   vippsMoney `json:"capturedAmount"`
		Refunded   vippsMoney `json:"refundedAmount"`
	} `json:"aggregate"`
}

// holdsMoney: Vipps has reserved or taken the customer's money and not given
// it back.
func (p vippsPayment) holdsMoney() bool {
	a := p.Aggregate
	return a.Authorized.Value-a.Cancelled.Value-a.Refunded.Value > 0
}

func (s *sandbox) vippsToken(ctx context.Context) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, s.url+"/vipps/accesstoken/get", nil)
	req.Header.Set("client_id", s.creds.VippsClientID)
	req.Header.Set("client_secret", s.creds.VippsClientSecret)
	req.Header.Set("Ocp-Apim-Subscription-Key", s.creds.VippsSubscriptionKey)
	req.Header.Set("Merchant-Serial-Number", s.creds.VippsMSN)
	var out struct {
		AccessToken string `json:"access_token"`
	}
	st, err := s.api(ctx, req, &out)
	if err == nil && (st != http.StatusOK || out.AccessToken == "") {
		err = fmt.Errorf("vipps access token: status %d", st)
	}
	return out.AccessToken, err
}

// vippsPayment reads a payment; found is false when Vipps has none with that
// reference.
func (s *sandbox) vippsPayment(ctx context.Context, token, reference string) (p vippsPayment, found bool, err error) {
	req, _ := http.NewRequest(http.MethodGet, s.url+"/vipps/epayment/v1/payments/"+url.PathEscape(reference), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Ocp-Apim-Subscription-Key", s.creds.VippsSubscriptionKey)
	req.Header.Set("Merchant-Serial-Number", s.creds.VippsMSN)
	st, err := s.api(ctx, req, &p)
	return p, st == http.StatusOK, err
}

// --- Klarna ---

func (s *sandbox) klarnaRequest(method, path string) *http.Request {
	req, _ := http.NewRequest(method, s.url+"/klarna/api"+path, nil)
	req.SetBasicAuth(s.creds.KlarnaUsername, s.creds.KlarnaPassword)
	return req
}

// klarnaSessionStatus reads a payment session: "complete" once an order was
// placed from it, "incomplete" before, "" when Klarna does not know it (or it
// expired, 48 hours after its last update).
func (s *sandbox) klarnaSessionStatus(ctx context.Context, sessionID string) (string, error) {
	var out struct {
		Status string `json:"status"`
	}
	st, err := s.api(ctx, s.klarnaRequest(http.MethodGet, "/payments/v1/sessions/"+url.PathEscape(sessionID)), &out)
	if st == http.StatusNotFound {
		return "", err
	}
	return out.Status, err
}

// klarnaOrderExists asks Klarna's redirect URL for an order: it knows the
// order when it sends the browser on to the shop's confirmation page.
func (s *sandbox) klarnaOrderExists(ctx context.Context, orderID string) (bool, error) {
	req, _ := http.NewRequest(http.MethodGet, s.url+"/klarna/payments/redirect/"+url.PathEscape(orderID), nil)
	st, err := s.api(ctx, req, nil)
	return st == http.StatusSeeOther, err
}

// --- Alternative Payments ---

func (s *sandbox) altpayToken(ctx context.Context) (string, error) {
	req, _ := http.NewRequest(http.MethodPost, s.url+"/altpay/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(s.creds.AltpayClientID), url.QueryEscape(s.creds.AltpayClientSecret))
	var out struct {
		AccessToken string `json:"access_token"`
	}
	st, err := s.api(ctx, req, &out)
	if err == nil && (st != http.StatusOK || out.AccessToken == "") {
		err = fmt.Errorf("altpay oauth token: status %d", st)
	}
	return out.AccessToken, err
}

func altpayJSON(method, url, token string, body any) *http.Request {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// altpayInvoice is what GET /invoices/{id} tells the merchant.
type altpayInvoice struct {
	ID     string          `json:"id"`
	Number string          `json:"invoice_number"`
	Status string          `json:"status"`
	Total  json.RawMessage `json:"total"`
}

func (s *sandbox) altpayInvoice(ctx context.Context, token, id string) (inv altpayInvoice, found bool, err error) {
	st, err := s.api(ctx, altpayJSON(http.MethodGet, s.url+"/altpay/invoices/"+url.PathEscape(id), token, nil), &inv)
	return inv, st == http.StatusOK, err
}

// altpayCustomersWithEmail counts the provider's customers with this email,
// reading every page of GET /customers.
func (s *sandbox) altpayCustomersWithEmail(ctx context.Context, token, email string) (int, error) {
	n, after := 0, ""
	for range 1000 {
		u := s.url + "/altpay/customers?limit=100"
		if after != "" {
			u += "&after=" + url.QueryEscape(after)
		}
		var page struct {
			Data []struct {
				Email string `json:"email"`
			} `json:"data"`
			EndCursor   *string `json:"end_cursor"`
			HasNextPage bool    `json:"has_next_page"`
		}
		if _, err := s.api(ctx, altpayJSON(http.MethodGet, u, token, nil), &page); err != nil {
			return n, err
		}
		for _, c := range page.Data {
			if strings.EqualFold(c.Email, email) {
				n++
			}
		}
		if !page.HasNextPage || page.EndCursor == nil {
			return n, nil
		}
		after = *page.EndCursor
	}
	return n, errors.New("altpay customers: too many pages")
}

// altpayCreateCustomer makes a customer of the suite's own (the canary and
// the owner of the marker invoices).
func (s *sandbox) altpayCreateCustomer(ctx context.Context, token, email string) (string, error) {
	var out struct {
		ID string `json:"id"`
	}
	st, err := s.api(ctx, altpayJSON(http.MethodPost, s.url+"/altpay/customers", token,
		map[string]string{"email": email, "name": "Fault suite", "external_id": "faults-" + randomHex(8)}), &out)
	if err == nil && (st != http.StatusCreated || out.ID == "") {
		err = fmt.Errorf("altpay create customer: status %d", st)
	}
	return out.ID, err
}

// altpayCustomerExists reads one customer.
func (s *sandbox) altpayCustomerExists(ctx context.Context, token, id string) (bool, error) {
	st, err := s.api(ctx, altpayJSON(http.MethodGet, s.url+"/altpay/customers/"+url.PathEscape(id), token, nil), nil)
	return st == http.StatusOK, err
}

// altpayMarkerInvoice makes an invoice for the suite's own customer and
// returns its number. Invoice numbers count up with every invoice the
// provider makes, so two markers bracket how many invoices were made between
// them, across every customer (GET /invoices would list them too).
func (s *sandbox) altpayMarkerInvoice(ctx context.Context, token, customerID string) (int, error) {
	var out altpayInvoice
	body := map[string]any{
		"currency": "USD", "customer_id": customerID, "memo": "fault suite marker",
		"due_date":   time.Now().AddDate(0, 0, 30).Format(time.DateOnly),
		"line_items": []map[string]any{{"description": "marker", "quantity": 1, "amount": 1}},
	}
	st, err := s.api(ctx, altpayJSON(http.MethodPost, s.url+"/altpay/invoices", token, body), &out)
	if err != nil {
		return 0, err
	}
	if st != http.StatusCreated {
		return 0, fmt.Errorf("altpay marker invoice: status %d", st)
	}
	return invoiceNumber(out.Number)
}

// invoiceNumber reads the counter in an invoice number such as "INV-00042".
func invoiceNumber(s string) (int, error) {
	i := strings.LastIndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	n, err := strconv.Atoi(s[i+1:])
	if err != nil {
		return 0, fmt.Errorf("invoice number %q: %v", s, err)
	}
	return n, nil
}
