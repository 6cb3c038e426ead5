// Package exchanges records the requests the sandbox receives on its
// provider routes (/klarna, /vipps, /altpay), each with its answer, redacted
// by the shop's own rules (web/redact): the provider's side of every call,
// the browser's included (the Alternative Payments snippet's calls, the
// Klarna widget's, the Vipps landing page), which the shop never sees.
//
// Each exchange carries refs, the ids that link it to a shop order: the
// route's path wildcards (a secret one, such as Klarna's authorization
// token, by its tag), the tag of a bearer token the request presents
// (secret.Tag, as the shop's redacted record of the answer that issued the
// token shows it), and ids the handler knows the request is about although
// the request does not name them (Ref, RefToken): the invoice a checkout
// token was issued for, the payment a landing-page token stands for.
//
// It is its own package, beside control rather than inside it, because it
// is a layer of its own around every provider route: control only names the
// operation (Hit calls Operation), and providers only add refs.
//
// Recording is synchronous, after the answer is written and before the
// request ends, like control's save, so a caller that reads GET
// /control/exchanges right after its call sees it. It never fails the
// request: a store error or a panic while recording is logged at WARN and
// the exchange dropped.
package exchanges

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"refshop/web/redact"
	"refshop/web/sandbox/store"
	"refshop/web/secret"
)

// Providers are the first path segments that are provider routes: the only
// requests recorded (the control API, assets and the index are the
// sandbox's own).
var Providers = []string{"altpay", "klarna", "vipps"}

// DefaultKeep is how many exchanges the store keeps: the latest.
const DefaultKeep = 2000

// captureLimit is the most of each body captured; redaction then cuts to
// redact.MaxBody.
const captureLimit = 128 << 10

// Exchange is one recorded request and its answer, as GET /control/exchanges
// answers it (a contract: see package control's documentation).
type Exchange struct {
	ID          int64     `json:"id"`
	At          time.Time `json:"at"`           // wall clock, when the request arrived
	SandboxTime time.Time `json:"sandbox_time"` // the sandbox clock then
	Provider    string    `json:"provider"`
	Operation   string    `json:"operation"` // "" when the route has none
	Origin      string    `json:"origin"`    // "browser" or "server"
	Method      string    `json:"method"`
	Path        string    `json:"path"`    // path and query, redacted
	Pattern     string    `json:"pattern"` // "GET /altpay/checkout/invoice"; "" when no route matched
	Status      int       `json:"status"`  // 0 when no answer went out
	// Lost: no answer went out (a lose_answer fault, or the handler gave up).
	Lost            bool        `json:"lost"`
	DurationMS      float64     `json:"duration_ms"`
	IdempotencyKey  string      `json:"idempotency_key"`
	RequestHeaders  http.Header `json:"request_headers"`
	RequestBody     string      `json:"request_body"`
	ResponseHeaders http.Header `json:"response_headers"`
	ResponseBody    string      `json:"response_body"`
	Refs            []string    `json:"refs"`
}

// Recorder records the sandbox's provider exchanges in its store. Wrap the
// sandbox's handler in Record and the mux in Matched.
type Recorder struct {
	db         *store.Store
	log        *slog.Logger
	sandboxNow func() time.Time
	operations func() []string
	keep       atomic.Int64
}

// New returns a recorder storing in db. sandboxNow is the sandbox clock;
// operations lists the declared operation names (the filters accept those).
func New(db *store.Store, log *slog.Logger, sandboxNow func() time.Time, operations func() []string) *Recorder {
	r := &Recorder{db: db, log: log, sandboxNow: sandboxNow, operations: operations}
	r.keep.Store(DefaultKeep)
	return r
}

// SetKeep sets how many of the latest exchanges are kept (from the next
// one recorded).
func (rec *Recorder) SetKeep(n int) { rec.keep.Store(int64(max(n, 1))) }

// call is what the layers and handlers learn about the request being
// recorded; it travels in the request's context.
type call struct {
	mu        sync.Mutex
	operation string
	pattern   string
	refs      []string
	secrets   []string
}

type callKey struct{}

func from(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

// Operation names the operation of the request being recorded (control's
// Hit calls it). A request not being recorded is left alone.
func Operation(ctx context.Context, op string) {
	if c := from(ctx); c != nil {
		c.mu.Lock()
		c.operation = op
		c.mu.Unlock()
	}
}

// Ref adds id to the refs of the request being recorded: an id the request
// is about that its path does not name. Never pass a secret: see RefToken.
func Ref(ctx context.Context, id string) {
	if c := from(ctx); c != nil && id != "" {
		c.mu.Lock()
		if !slices.Contains(c.refs, id) {
			c.refs = append(c.refs, id)
		}
		c.mu.Unlock()
	}
}

// RefToken adds a token the request presents, by its tag (secret.Tag): the
// form in which redaction shows it, so the shop can match it against the
// answer that issued the token.
func RefToken(ctx context.Context, token string) { Ref(ctx, secret.Tag(token)) }

// Secret names a value of the request being recorded as secret where
// redaction's rules cannot tell (the Vipps landing token inside the landing
// page's HTML): every whole occurrence left after redaction is replaced by
// its mark.
func Secret(ctx context.Context, value string) {
	if c := from(ctx); c != nil && value != "" {
		c.mu.Lock()
		c.secrets = append(c.secrets, value)
		c.mu.Unlock()
	}
}

// hide replaces what redaction left of secrets in x by their marks.
func hide(x *Exchange, secrets []string) {
	if len(secrets) == 0 {
		return
	}
	pairs := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		pairs = append(pairs, s, redact.Mark(s))
	}
	rp := strings.NewReplacer(pairs...)
	x.Path, x.RequestBody, x.ResponseBody = rp.Replace(x.Path), rp.Replace(x.RequestBody), rp.Replace(x.ResponseBody)
	for _, h := range []http.Header{x.RequestHeaders, x.ResponseHeaders} {
		for _, vals := range h {
			for i, v := range vals {
				vals[i] = rp.Replace(v)
			}
		}
	}
}

// recorded reports whether path is a provider route's, and whose.
func recorded(path string) (string, bool) {
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return first, slices.Contains(Providers, first)
}

// Record records every request to a provider route that next serves, once
// it is answered. Put it outside control.State.Wrap, so that it sees what
// went out: a lose_answer fault's answer is recorded as lost.
func (rec *Recorder) Record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		provider, ok := recorded(r.URL.Path)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		x := Exchange{At: time.Now(), SandboxTime: rec.sandboxNow(), Provider: provider, Origin: origin(r.Header),
			Method: r.Method, IdempotencyKey: idempotencyKey(r.Header)}
		start := time.Now()
		reqHeader := r.Header.Clone()
		reqBody := captureBody(r)
		c := &call{}
		cw := &captureWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			x.DurationMS = float64(time.Since(start).Microseconds()) / 1000
			if p != nil {
				// Wrap panics with http.ErrAbortHandler to lose an answer;
				// any panic means the caller got none.
				x.Lost = true
				cw.mu.Lock()
				cw.status, cw.header, cw.wrote = 0, nil, true
				cw.body.Reset()
				cw.mu.Unlock()
			}
			rec.store(x, r, c, reqHeader, reqBody, cw)
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(cw, r.WithContext(context.WithValue(r.Context(), callKey{}, c)))
	})
}

// Matched notes which pattern mux matched for the request being recorded,
// and its path wildcards. Put it right around the mux, inside every layer
// that copies the request: the mux sets the pattern on the request it is
// given, so only this layer sees it.
func Matched(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		c := from(r.Context())
		if c == nil || r.Pattern == "" {
			return
		}
		provider, _ := recorded(r.URL.Path)
		var refs []string
		for _, name := range wildcards(r.Pattern) {
			v := r.PathValue(name)
			switch {
			case v == "":
			case secretParam(provider, name):
				refs = append(refs, secret.Tag(v))
			default:
				refs = append(refs, v)
			}
		}
		c.mu.Lock()
		c.pattern = r.Pattern
		c.refs = append(refs, c.refs...) // the path's ids first
		c.mu.Unlock()
	})
}

// store redacts and stores one exchange. It never fails the request: an
// error or a panic drops the exchange with a WARN line.
func (rec *Recorder) store(x Exchange, r *http.Request, c *call, reqHeader http.Header, reqBody []byte, cw *captureWriter) {
	defer func() {
		if p := recover(); p != nil {
			what := "a panic" // a runtime error's text names no data; another value might
			if re, ok := p.(runtime.Error); ok {
				what = re.Error()
			}
			rec.log.Warn("sandbox: recording an exchange panicked; it is dropped", "provider", x.Provider, "panic", what)
		}
	}()
	c.mu.Lock()
	x.Operation, x.Pattern = c.operation, c.pattern
	refs, secrets := slices.Clone(c.refs), slices.Clone(c.secrets)
	c.mu.Unlock()
	if tok, ok := bearer(reqHeader); ok {
		refs = append(refs, secret.Tag(tok))
	}
	x.Refs = dedupe(refs)
	cw.mu.Lock()
	x.Status = cw.status
	respHeader, respBody := cw.header, cw.body.Bytes()
	if !cw.wrote {
		x.Status, respHeader = http.StatusOK, cw.Header().Clone() // nothing written: net/http sends 200
	}
	cw.mu.Unlock()
	red := redact.Redact(x.Provider, redact.Exchange{Method: x.Method, URL: r.URL.RequestURI(), PathTemplate: pathOf(x.Pattern),
		ReqHeader: reqHeader, ReqBody: reqBody, RespHeader: respHeader, RespBody: respBody})
	x.Path, x.RequestHeaders, x.ResponseHeaders = red.URL, orEmpty(red.ReqHeader), orEmpty(red.RespHeader)
	x.RequestBody, x.ResponseBody = string(red.ReqBody), string(red.RespBody)
	hide(&x, secrets)
	if err := rec.insert(context.WithoutCancel(r.Context()), x); err != nil {
		rec.log.Warn("sandbox: recording an exchange failed; it is dropped", "provider", x.Provider,
			"operation", x.Operation, "error", err)
	}
}

func (rec *Recorder) insert(ctx context.Context, x Exchange) error {
	reqH, err := json.Marshal(x.RequestHeaders)
	if err != nil {
		return err
	}
	respH, err := json.Marshal(x.ResponseHeaders)
	if err != nil {
		return err
	}
	refs, err := json.Marshal(x.Refs)
	if err != nil {
		return err
	}
	tx, err := rec.db.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `INSERT INTO exchanges (at, sandbox_time, provider, operation, origin, method, path,
		pattern, status, lost, duration_ms, idempotency_key, request_headers, request_body, response_headers, response_body, refs)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		x.At.UTC().Format(time.RFC3339Nano), x.SandboxTime.UTC().Format(time.RFC3339Nano), x.Provider, x.Operation, x.Origin,
		x.Method, x.Path, x.Pattern, x.Status, x.Lost, x.DurationMS, x.IdempotencyKey, string(reqH), x.RequestBody,
		string(respH), x.ResponseBody, string(refs)); err != nil {
		return err
	}
	// Keep the latest: everything at or below the id keep places back goes
	// (a walk of keep entries of the primary key; nothing when fewer).
	if _, err := tx.ExecContext(ctx, `DELETE FROM exchanges WHERE id <= (SELECT id FROM exchanges ORDER BY id DESC LIMIT 1 OFFSET ?)`,
		rec.keep.Load()); err != nil {
		return err
	}
	return tx.Commit()
}

// Clear forgets every recorded exchange (POST /control/reset).
func (rec *Recorder) Clear() {
	if _, err := rec.db.DB().Exec(`DELETE FROM exchanges`); err != nil {
		rec.log.Warn("sandbox: forgetting the recorded exchanges failed", "error", err)
	}
}

// origin is "browser" when the request carries what browsers send and
// HTTP clients such as Go's do not: Sec-Fetch-Mode (Chromium and Firefox,
// on every request) or Origin.
func origin(h http.Header) string {
	if h.Get("Sec-Fetch-Mode") != "" || h.Get("Origin") != "" {
		return "browser"
	}
	return "server"
}

// idempotencyKey is the request's idempotency key, under its provider's
// header name.
func idempotencyKey(h http.Header) string {
	if v := h.Get("Idempotency-Key"); v != "" {
		return v
	}
	return h.Get("Klarna-Idempotency-Key")
}

// bearer is the request's bearer token, if it presents one.
func bearer(h http.Header) (string, bool) {
	scheme, tok, ok := strings.Cut(h.Get("Authorization"), " ")
	tok = strings.TrimSpace(tok)
	return tok, ok && strings.EqualFold(scheme, "Bearer") && tok != ""
}

// wildcards are the names of pattern's path wildcards ("{id}", "{rest...}").
func wildcards(pattern string) []string {
	var names []string
	for _, seg := range strings.Split(pathOf(pattern), "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			name = strings.TrimSuffix(strings.TrimSuffix(name, "}"), "...")
			if name != "$" && name != "" {
				names = append(names, name)
			}
		}
	}
	return names
}

// pathOf is a mux pattern's path: without its method and host.
func pathOf(pattern string) string {
	if method, rest, ok := strings.Cut(pattern, " "); ok && !strings.Contains(method, "/") {
		pattern = strings.TrimLeft(rest, " \t")
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:] // a host
	}
	return pattern
}

// secretParam reports whether a path wildcard holds a secret by redaction's
// rules (Klarna's {token}: an authorization or customer token).
func secretParam(provider, name string) bool {
	is := func(list []string) bool {
		return slices.ContainsFunc(list, func(s string) bool { return strings.EqualFold(s, name) })
	}
	return is(redact.Common.Path) || is(redact.Providers[provider].Path)
}

func dedupe(refs []string) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		if r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

func orEmpty(h http.Header) http.Header {
	if h == nil {
		return http.Header{}
	}
	return h
}

// captureBody reads up to captureLimit of r's body ahead of the handler,
// which reads the same bytes from r.Body afterwards. It is read before the
// handler runs so that a request refused before its body was read (a 401)
// still shows what it sent.
func captureBody(r *http.Request) []byte {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, captureLimit))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
	return b
}

// captureWriter notes the status, the headers as sent and up to
// captureLimit of the body.
type captureWriter struct {
	http.ResponseWriter
	mu     sync.Mutex
	wrote  bool
	status int
	header http.Header
	body   bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) {
	c.mu.Lock()
	if !c.wrote && code >= 200 {
		c.wrote, c.status, c.header = true, code, c.Header().Clone()
	}
	c.mu.Unlock()
	c.ResponseWriter.WriteHeader(code)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	c.mu.Lock()
	if !c.wrote {
		c.wrote, c.status, c.header = true, http.StatusOK, c.Header().Clone()
	}
	if room := captureLimit - c.body.Len(); room > 0 {
		c.body.Write(b[:min(len(b), room)])
	}
	c.mu.Unlock()
	return c.ResponseWriter.Write(b)
}

func (c *captureWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
