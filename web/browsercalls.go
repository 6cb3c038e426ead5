package web

// The browser's own calls to a provider, for the order page's "How this
// payment happened": the Alternative Payments snippet asking for the invoice
// with its checkout token (and the 401 that makes it call
// onAccessTokenExpired), the Klarna widget's authorize, the Vipps landing
// page. The shop never sees these: the browser talks to the provider
// directly. The sandbox records every call it receives and links each to
// the ids it is about (GET /control/exchanges, a contract in
// web/sandbox/control); the shop asks it for the browser's calls about an
// order's reference, session or invoice (paymentFlow.browserRefs) and shows
// them beside its own, from a Browser lifeline. In real mode there is no
// such record, and the page says that only the shop's own calls are shown.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"refshop/db"
)

// browserCallsWait bounds the page's question to the sandbox: a sandbox that
// does not answer costs the page this much, and the page still shows the
// shop's own calls.
const browserCallsWait = 2 * time.Second

// browserCallsLimit is the most browser calls one order page shows (the
// sandbox keeps the latest 2000 of all it received).
const browserCallsLimit = 200

// What the page says of the browser's calls.
const (
	browserCallsShown   = "The browser's own calls to the provider are shown as the sandbox received them."
	browserCallsReal    = "The browser's own calls to the provider are not shown: in the provider's real test environment the browser talks to the provider directly, and the shop cannot see those calls."
	browserCallsMissing = "The browser's own calls to the provider could not be read from the sandbox just now; only the calls between the shop and the provider are shown."
)

// sandboxExchange is one call as GET /control/exchanges answers it.
type sandboxExchange struct {
	ID              int64       `json:"id"`
	At              time.Time   `json:"at"` // the wall clock, like the shop's records
	SandboxTime     time.Time   `json:"sandbox_time"`
	Provider        string      `json:"provider"`
	Operation       string      `json:"operation"` // "altpay.checkout_invoice"
	Origin          string      `json:"origin"`    // "browser", "server"
	Method          string      `json:"method"`
	Path            string      `json:"path"`
	Pattern         string      `json:"pattern"` // "GET /altpay/v1/checkout/invoice/{id}"
	Status          int         `json:"status"`
	Lost            bool        `json:"lost"`
	DurationMS      float64     `json:"duration_ms"`
	IdempotencyKey  string      `json:"idempotency_key"`
	RequestHeaders  http.Header `json:"request_headers"`
	RequestBody     string      `json:"request_body"`
	ResponseHeaders http.Header `json:"response_headers"`
	ResponseBody    string      `json:"response_body"`
}

// browserCalls returns the browser's calls about o that the sandbox
// recorded, as exchanges from the browser (db.OriginBrowser), and what the
// page says of them.
// An error reaching the sandbox is logged and leaves the list empty: the
// page still shows the shop's own calls.
func (a *App) browserCalls(ctx context.Context, o db.Order) ([]db.Exchange, string) {
	flow := a.payments[o.Provider]
	if flow == nil {
		return nil, ""
	}
	refs, sandbox, err := flow.browserRefs(ctx, o)
	if err != nil {
		a.Log.Warn("order page: could not tell which browser calls belong to the order", "order", o.PublicID, "error", err)
		return nil, browserCallsMissing
	}
	if !sandbox || a.Config.SandboxURL == "" {
		return nil, browserCallsReal
	}
	if len(refs) == 0 {
		return nil, browserCallsShown
	}
	xs, err := a.askSandboxExchanges(ctx, refs)
	if err != nil {
		a.Log.Warn("order page: the sandbox's record of the browser's calls could not be read", "order", o.PublicID, "error", err)
		return nil, browserCallsMissing
	}
	out := make([]db.Exchange, 0, len(xs))
	for _, x := range xs {
		out = append(out, x.exchange(o, a.Config.SandboxURL))
	}
	return out, browserCallsShown
}

// askSandboxExchanges asks the sandbox for the browser's calls about any
// of refs. It is not a provider call, so it goes around the recorder.
func (a *App) askSandboxExchanges(ctx context.Context, refs []string) ([]sandboxExchange, error) {
	q := url.Values{"origin": {"browser"}, "limit": {strconv.Itoa(browserCallsLimit)}, "ref": refs}
	ctx, cancel := context.WithTimeout(ctx, browserCallsWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.Config.SandboxURL+"/control/exchanges?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /control/exchanges: %s", res.Status)
	}
	var body struct {
		Exchanges []sandboxExchange `json:"exchanges"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, res.Body, 16<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("GET /control/exchanges: %w", err)
	}
	return body.Exchanges, nil
}

// exchange is x as the order page lists it: the provider's own operation
// name (without the sandbox's "altpay." prefix) and the pattern's path as
// the template.
func (x sandboxExchange) exchange(o db.Order, sandboxURL string) db.Exchange {
	op := x.Operation
	if p, name, ok := strings.Cut(op, "."); ok && p == x.Provider {
		op = name
	}
	tmpl := x.Pattern
	if _, path, ok := strings.Cut(tmpl, " "); ok {
		tmpl = path
	}
	out := db.Exchange{
		ID: -x.ID, StartedAt: x.At, ProviderAt: x.SandboxTime, Duration: time.Duration(x.DurationMS * float64(time.Millisecond)),
		OrderID: o.ID, UserID: o.UserID, Origin: db.OriginBrowser, Provider: x.Provider, Operation: op, PathTemplate: tmpl,
		Method: x.Method, URL: sandboxURL + x.Path, Status: x.Status, Try: 1, IdempotencyKey: x.IdempotencyKey,
		ReqHeaders: x.RequestHeaders, ReqBody: x.RequestBody, RespHeaders: x.ResponseHeaders, RespBody: x.ResponseBody,
	}
	if x.Lost {
		out.Status, out.Error, out.RespHeaders = 0, "answer lost", nil
	}
	return out
}

// withBrowserCalls merges the browser's calls into the shop's, in the order
// they started (a stable sort: the shop's own keep their order).
func withBrowserCalls(own, browser []db.Exchange) []db.Exchange {
	if len(browser) == 0 {
		return own
	}
	all := append(slices.Clone(own), browser...)
	slices.SortStableFunc(all, func(x, y db.Exchange) int { return x.StartedAt.Compare(y.StartedAt) })
	return all
}

// inSandbox reports whether env (a provider attempt's base URL) is the
// sandbox's.
func (a *App) inSandbox(env string) bool {
	return a.Config.SandboxURL != "" && strings.HasPrefix(env+"/", a.Config.SandboxURL+"/")
}
