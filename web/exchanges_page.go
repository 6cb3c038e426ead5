package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/diagram"
)

// The order page's "How this payment happened" (views.OrderExchanges) and
// its HAR download (GET /orders/:id/exchanges.har): the exchanges the
// outbound recorder stored for the order (web/exchanges.go), already
// redacted: the shop's calls to the provider and the provider's calls to
// the shop (webhook deliveries, callbacks: web/inbound), with the
// browser's calls to the provider read from the sandbox
// (browsercalls.go). Nothing here adds to them or groups them: one entry
// per request, in the order they started.

// exchangeFlushWait bounds how long a page waits for the recorder to store
// the exchanges that finished before it was asked for.
const exchangeFlushWait = 2 * time.Second

// maxShownBody is the most of a body (or of a header block) the page shows;
// the HAR has all that was recorded (up to redact.MaxBody).
const maxShownBody = 16 << 10

// orderExchangeLimit is the most exchanges an order's page and HAR hold:
// its latest ones. A checkout makes about 5 to 30 calls, retries and
// refreshes included, so any real flow fits many times over; what exceeds
// it is a page left open that refreshes itself (every 3 s while a provider
// is slow to confirm) for the 30 days exchanges are kept. 200 exchanges,
// at most 2 × redact.MaxBody of bodies each (typically a few KiB), keep
// the page and the HAR a size a browser opens at once.
const orderExchangeLimit = 200

// orderExchangeList is an order's latest exchanges, in the order they
// started, and how many earlier ones are left out (orderExchangeLimit).
type orderExchangeList struct {
	Items   []db.Exchange
	Omitted int
	// BrowserNote says whether the browser's own calls are among Items
	// (browsercalls.go) or why not.
	BrowserNote string
}

// orderExchanges lists o's latest exchanges, once the recorder (when there
// is one) has stored every exchange that finished before this call: the
// page shows the calls its own request just made.
func (a *App) orderExchanges(ctx context.Context, o db.Order) (orderExchangeList, error) {
	if a.Recorder != nil {
		fctx, cancel := context.WithTimeout(ctx, exchangeFlushWait)
		if err := a.Recorder.Flush(fctx); err != nil {
			a.Log.Warn("order page: the recorder did not catch up; the list may miss the latest calls", "error", err)
		}
		cancel()
	}
	xs, omitted, err := a.Store.ExchangesByOrder(ctx, o.ID, orderExchangeLimit)
	if err != nil {
		return orderExchangeList{}, err
	}
	browser, note := a.browserCalls(ctx, o)
	return orderExchangeList{Items: withBrowserCalls(xs, browser), Omitted: omitted, BrowserNote: note}, nil
}

// exchangesView is the order page's list of o's exchanges.
func (a *App) exchangesView(o db.Order, l orderExchangeList) views.ExchangesView {
	v := views.ExchangesView{HARURL: "/orders/" + o.PublicID + "/exchanges.har", Retention: retentionWords(a.Config.ExchangeRetention),
		Diagram: diagram.FromExchanges(l.Items), Omitted: omittedWords(l.Omitted), BrowserNote: l.BrowserNote}
	for i, x := range l.Items {
		v.Items = append(v.Items, exchangeView(i+1, x))
	}
	return v
}

// omittedWords starts the sentence that says how many earliest exchanges a
// list leaves out: "The 3 earliest exchanges are"; "" for none.
func omittedWords(n int) string {
	switch {
	case n <= 0:
		return ""
	case n == 1:
		return "The earliest exchange is"
	}
	return "The " + strconv.Itoa(n) + " earliest exchanges are"
}

func exchangeView(n int, x db.Exchange) views.ExchangeView {
	v := views.ExchangeView{
		N: n, Provider: providerName(db.Provider(x.Provider)), Operation: exchangeWords(x), OpName: x.Operation,
		Method: x.Method, Path: x.PathTemplate, URL: x.URL, Code: x.Status, Status: statusWords(x),
		Origin: string(cmp.Or(x.Origin, db.OriginShop)), From: fromWords(x), Event: x.Event,
		Failed: x.Status == 0 || x.Status >= 400, Took: tookWords(x.Duration),
		Time: x.StartedAt.Local().Format("15:04:05.000"), When: x.StartedAt.UTC().Format(time.RFC3339Nano),
		IdempotencyKey: x.IdempotencyKey, ReqHeaders: headerLines(x.ReqHeaders), ReqBody: shownBody(x.ReqBody),
		Answered: x.Status != 0, RespHeaders: headerLines(x.RespHeaders), RespBody: shownBody(x.RespBody),
	}
	if v.Path == "" {
		v.Path = pathOf(x.URL)
	}
	if x.Try > 1 {
		v.Try = "try " + strconv.Itoa(x.Try)
		if x.RetryReason != "" {
			v.Try += " after " + x.RetryReason
		}
	}
	return v
}

// fromWords says who called whom, before an exchange's words, when it was
// not the shop calling the provider: "From the browser:", "From Vipps
// MobilePay to the shop:".
func fromWords(x db.Exchange) string {
	switch {
	case x.Is(db.OriginBrowser):
		return "From the browser:"
	case x.Is(db.OriginProvider):
		return "From " + senderName(db.Provider(x.Provider)) + " to the shop:"
	}
	return ""
}

// senderName names the provider that called the shop: the company, where
// providerName names the payment method ("Invoice").
func senderName(p db.Provider) string {
	if p == db.ProviderAltpay {
		return "Alternative Payments"
	}
	return providerName(p)
}

// exchangeWords is what an exchange did, in words, with the event a
// provider's call delivered: "create the payment", "webhook
// epayments.payment.authorized.v1".
func exchangeWords(x db.Exchange) string {
	w := operationWords(x.Operation)
	if x.Event != "" {
		w += " " + x.Event
	}
	return w
}

// operationNames are the operations, as the sandbox names them, in words.
var operationNames = map[string]string{
	// Vipps MobilePay
	"accesstoken": "get an access token", "create_payment": "create the payment", "get_payment": "get the payment",
	"events": "get the payment's events", "capture": "capture the payment", "cancel": "cancel the payment",
	"refund": "refund the payment", "approve": "approve the payment (test only)",
	"landing": "open the payment page", // the browser's
	// Klarna Payments
	"create_session": "create a payment session", "read_session": "read the payment session",
	"update_session": "update the payment session", "create_order": "create the order",
	"cancel_authorization": "cancel the authorization", "customer_token_read": "read the customer token",
	"customer_token_order":  "create an order with the customer token",
	"customer_token_status": "change the customer token's status",
	// Klarna Order Management
	"om_get_order": "read the order", "om_capture": "capture the order", "om_refund": "refund the order",
	"om_cancel": "cancel the order", "om_extend": "extend the authorization", "om_release": "release the rest of the authorization",
	// Sign in with Klarna
	"discovery": "read the sign-in configuration", "token_code": "exchange the sign-in code for tokens",
	"authorize": "sign in at Klarna", "jwks": "read the signing keys",
	"token_refresh": "refresh the sign-in tokens", "revoke": "revoke the sign-in tokens", "userinfo": "read the account's details",
	// Alternative Payments
	"oauth_token": "get an access token", "create_customer": "create the customer", "get_customer": "get the customer",
	"list_customers": "list customers", "create_invoice": "create the invoice", "list_invoices": "list invoices",
	"get_invoice": "get the invoice", "checkout_auth_init": "start a checkout session",
	// the invoice snippet's, from the browser
	"checkout_invoice": "read the invoice", "checkout_theme": "read the checkout's look",
	"checkout_payment_methods": "list the saved payment methods", "checkout_add_payment_method": "save a payment method",
	"checkout_payment": "pay the invoice",
	// the providers' calls to the shop (web/inbound), named as the sandbox
	// names its deliveries; the event each delivered follows the words
	"webhook_delivery": "webhook", "authorization_callback": "authorization callback",
	"fraud_notification": "pending-order notification",
}

// operationWords is an operation in words: the known ones from
// operationNames, any other as its name with spaces.
func operationWords(op string) string {
	if w, ok := operationNames[op]; ok {
		return w
	}
	if op == "" {
		return "a call"
	}
	return strings.ReplaceAll(op, "_", " ")
}

// statusWords is an exchange's answer: "201 Created", "no answer: timeout".
func statusWords(x db.Exchange) string {
	if x.Status == 0 {
		if x.Error == "" {
			return "no answer"
		}
		return "no answer: " + x.Error
	}
	if t := http.StatusText(x.Status); t != "" {
		return strconv.Itoa(x.Status) + " " + t
	}
	return strconv.Itoa(x.Status)
}

func tookWords(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return "under 1 ms"
	case d < 10*time.Second:
		return strconv.FormatInt(d.Round(time.Millisecond).Milliseconds(), 10) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
}

func retentionWords(d time.Duration) string {
	if d <= 0 {
		d = 30 * 24 * time.Hour
	}
	if d%(24*time.Hour) == 0 {
		if days := int(d / (24 * time.Hour)); days != 1 {
			return strconv.Itoa(days) + " days"
		}
		return "a day"
	}
	return d.String()
}

// pathOf is a URL's path, for an exchange recorded without its template.
func pathOf(raw string) string {
	if u, err := url.Parse(escapeURL(raw)); err == nil && u.Path != "" {
		return u.Path
	}
	return raw
}

// headerLines is h as "Name: value" lines, sorted by name.
func headerLines(h http.Header) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			b.WriteString(name + ": " + v + "\n")
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// shownBody is a body as the page shows it: indented when it is JSON, and
// cut at maxShownBody (on a character boundary) with how much more there
// was.
func shownBody(s string) views.Body {
	if s == "" {
		return views.Body{}
	}
	if json.Valid([]byte(s)) {
		var b bytes.Buffer
		if json.Indent(&b, []byte(s), "", "  ") == nil {
			s = b.String()
		}
	}
	if len(s) <= maxShownBody {
		return views.Body{Text: s}
	}
	cut := maxShownBody
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return views.Body{Text: s[:cut], Cut: fmt.Sprintf("%d more characters", utf8.RuneCountInString(s[cut:]))}
}

// The HAR download.

// har is a HAR 1.2 document (http://www.softwareishard.com/blog/har-12-spec/).
type har struct {
	Log harLog `json:"log"`
}

type harLog struct {
	Version string       `json:"version"`
	Creator harNameValue `json:"creator"`
	Entries []harEntry   `json:"entries"`
	Comment string       `json:"comment,omitempty"`
}

type harNameValue struct {
	Name    string `json:"name"`
	Value   string `json:"value,omitempty"`
	Version string `json:"version,omitempty"`
}

type harEntry struct {
	StartedDateTime string      `json:"startedDateTime"`
	Time            float64     `json:"time"`
	Request         harRequest  `json:"request"`
	Response        harResponse `json:"response"`
	Cache           struct{}    `json:"cache"`
	Timings         harTimings  `json:"timings"`
	Comment         string      `json:"comment,omitempty"`
	// Custom fields (HAR allows them, starting with "_"): what the recorder
	// knows beyond HTTP.
	Origin         string `json:"_origin"` // "shop", "browser" or "provider" (the provider called the shop)
	Provider       string `json:"_provider"`
	Operation      string `json:"_operation"`
	Event          string `json:"_event,omitempty"` // what a provider's call delivered
	PathTemplate   string `json:"_pathTemplate,omitempty"`
	IdempotencyKey string `json:"_idempotencyKey,omitempty"`
	Try            int    `json:"_try"`
	RetryReason    string `json:"_retryReason,omitempty"`
	RequestID      string `json:"_shopRequestId,omitempty"`
}

type harRequest struct {
	Method      string         `json:"method"`
	URL         string         `json:"url"`
	HTTPVersion string         `json:"httpVersion"`
	Cookies     []harNameValue `json:"cookies"`
	Headers     []harNameValue `json:"headers"`
	QueryString []harNameValue `json:"queryString"`
	PostData    *harPostData   `json:"postData,omitempty"`
	HeadersSize int            `json:"headersSize"`
	BodySize    int            `json:"bodySize"`
}

type harPostData struct {
	MimeType string `json:"mimeType"`
	Text     string `json:"text"`
}

type harResponse struct {
	Status      int            `json:"status"`
	StatusText  string         `json:"statusText"`
	HTTPVersion string         `json:"httpVersion"`
	Cookies     []harNameValue `json:"cookies"`
	Headers     []harNameValue `json:"headers"`
	Content     harContent     `json:"content"`
	RedirectURL string         `json:"redirectURL"`
	HeadersSize int            `json:"headersSize"`
	BodySize    int            `json:"bodySize"`
	Comment     string         `json:"comment,omitempty"`
	Error       string         `json:"_error,omitempty"` // why no answer came (status 0), as Chromium's HAR says it
}

type harContent struct {
	Size     int    `json:"size"`
	MimeType string `json:"mimeType"`
	Text     string `json:"text,omitempty"`
}

type harTimings struct {
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
}

// orderHAR answers an order's exchanges as a HAR file, to the order's owner
// only (loadOrder: 404 for anyone else, as the order page).
func (a *App) orderHAR(c echo.Context) error {
	o, err := a.loadOrder(c, c.Param("id"))
	if err != nil {
		return err
	}
	l, err := a.orderExchanges(c.Request().Context(), o)
	if err != nil {
		return err
	}
	body, err := json.MarshalIndent(orderHARDoc(o, l), "", "  ")
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set("Content-Disposition", `attachment; filename="refshop-order-`+o.PublicID+`.har"`)
	h.Set("Cache-Control", "no-store")
	return c.Blob(http.StatusOK, "application/json; charset=utf-8", body)
}

// orderHARDoc is o's exchanges as a HAR document, one entry each, in the
// order they started: the same latest ones as the page.
func orderHARDoc(o db.Order, l orderExchangeList) har {
	doc := har{Log: harLog{Version: "1.2", Creator: harNameValue{Name: "refshop", Version: "1"}, Entries: []harEntry{},
		Comment: strings.TrimSpace("Order " + o.PublicID + ": the calls made to the payment provider for it, as " +
			"recorded, and the calls the provider made to the shop (webhooks, callbacks), every secret replaced by a " +
			"fingerprint; _origin says who made each request: the shop, the browser, or the provider. " +
			l.BrowserNote + " Sizes are -1: the bodies are redacted, so their sizes are not what was sent.")}}
	if w := omittedWords(l.Omitted); w != "" {
		doc.Log.Comment += " " + w + " left out: this file holds the latest " + strconv.Itoa(len(l.Items)) + "."
	}
	for _, x := range l.Items {
		doc.Log.Entries = append(doc.Log.Entries, harEntryOf(x))
	}
	return doc
}

func harEntryOf(x db.Exchange) harEntry {
	ms := float64(x.Duration) / float64(time.Millisecond)
	u := escapeURL(x.URL)
	e := harEntry{
		StartedDateTime: x.StartedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"), Time: ms,
		Request: harRequest{Method: x.Method, URL: u, HTTPVersion: "HTTP/1.1", Cookies: []harNameValue{},
			Headers: harHeaders(x.ReqHeaders), QueryString: harQuery(u), HeadersSize: -1, BodySize: -1},
		Timings: harTimings{Send: 0, Wait: ms, Receive: 0},
		Origin:  string(cmp.Or(x.Origin, db.OriginShop)), Provider: x.Provider, Operation: x.Operation, Event: x.Event,
		PathTemplate: x.PathTemplate, IdempotencyKey: x.IdempotencyKey,
		Try: max(x.Try, 1), RetryReason: x.RetryReason, RequestID: x.RequestID,
		Comment: providerName(db.Provider(x.Provider)) + ": " + exchangeWords(x),
	}
	if x.Try > 1 {
		e.Comment += fmt.Sprintf(" (try %d after %s)", x.Try, x.RetryReason)
	}
	switch {
	case x.Is(db.OriginBrowser):
		e.Comment = "From the browser: " + e.Comment
	case x.Is(db.OriginProvider):
		e.Comment = fromWords(x) + " " + exchangeWords(x)
	}
	if x.ReqBody != "" {
		e.Request.PostData = &harPostData{MimeType: x.ReqHeaders.Get("Content-Type"), Text: x.ReqBody}
	} else {
		e.Request.BodySize = 0
	}
	if x.Status == 0 {
		e.Response = harResponse{Status: 0, StatusText: "", HTTPVersion: "", Cookies: []harNameValue{},
			Headers: []harNameValue{}, Content: harContent{Size: 0, MimeType: "x-unknown"}, HeadersSize: -1, BodySize: -1,
			Comment: statusWords(x), Error: cmp.Or(x.Error, "no answer")}
		return e
	}
	mime := x.RespHeaders.Get("Content-Type")
	if mime == "" {
		mime = "x-unknown"
	}
	e.Response = harResponse{Status: x.Status, StatusText: http.StatusText(x.Status), HTTPVersion: "HTTP/1.1",
		Cookies: []harNameValue{}, Headers: harHeaders(x.RespHeaders),
		Content:     harContent{Size: len(x.RespBody), MimeType: mime, Text: x.RespBody},
		RedirectURL: escapeURL(x.RespHeaders.Get("Location")), HeadersSize: -1, BodySize: -1}
	return e
}

func harHeaders(h http.Header) []harNameValue {
	out := []harNameValue{}
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			out = append(out, harNameValue{Name: name, Value: v})
		}
	}
	return out
}

// harQuery is the query of u (escaped: escapeURL) as name and value pairs,
// in their order, decoded.
func harQuery(u string) []harNameValue {
	out := []harNameValue{}
	parsed, err := url.Parse(u)
	if err != nil || parsed.RawQuery == "" {
		return out
	}
	for pair := range strings.SplitSeq(parsed.RawQuery, "&") {
		if pair == "" {
			continue
		}
		name, value, _ := strings.Cut(pair, "=")
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		if v, err := url.QueryUnescape(value); err == nil {
			value = v
		}
		out = append(out, harNameValue{Name: name, Value: value})
	}
	return out
}

// redactionMark is web/redact's mark: "[redacted …Xy7Q #1f0c9a2b]".
var redactionMark = regexp.MustCompile(`\[redacted [^\]]*\]`)

// escapeURL makes a redacted URL a valid one: the redaction marks in it
// hold spaces, "…" and "#" (which would start a fragment), so each is
// percent-encoded whole, and so is any other byte a URL may not hold
// (spaces, quotes, non-ASCII).
func escapeURL(raw string) string {
	s := redactionMark.ReplaceAllStringFunc(raw, url.PathEscape)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; urlByte(c) {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// urlByte says whether c may stand as itself in a URL (RFC 3986: unreserved,
// reserved, and "%" of an escape).
func urlByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&'()*+,;=%", c) >= 0
}
