// Package sandbox is the embedded provider sandbox: an HTTP server on its own
// origin that behaves like Klarna, Vipps MobilePay and Alternative Payments'
// test environments, steered through its control API (package control).
//
// It never imports the shop's client packages: each side implements the
// documented contract on its own, and tests hold both to the documented JSON
// examples, so a misreading cannot hide by being shared.
//
// It keeps its state in its own file in the data dir (package store), so a
// restart changes nothing; POST /control/reset forgets it.
package sandbox

import (
	"context"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"refshop/static"
	"refshop/views/sandboxviews"
	"refshop/web/clock"
	"refshop/web/config"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/deliveries"
	"refshop/web/sandbox/exchanges"
	"refshop/web/sandbox/klarnasignin"
	"refshop/web/sandbox/store"
)

// Sandbox is the sandbox's state and its HTTP handler.
type Sandbox struct {
	State *control.State
	// Exchanges records what the sandbox receives on its provider routes
	// (GET /control/exchanges, the index's "Latest exchanges").
	Exchanges *exchanges.Recorder
	// Deliveries sends the providers' events to the URLs the shop
	// registered (GET /control/deliveries, the index's "Deliveries").
	Deliveries *deliveries.Engine
	handler    http.Handler
	db         *store.Store
}

// New builds a sandbox provisioned with cfg, with the state it kept in
// cfg.DataDir. base is the clock its own clock runs on (nil: the wall
// clock). Close it when done.
func New(cfg control.Config, log *slog.Logger, base clock.Clock) (*Sandbox, error) {
	db, err := store.Open(context.Background(), cfg.DataDir)
	if err != nil {
		return nil, err
	}
	st := control.New(cfg, base)
	rec := exchanges.New(db, log, st.Now, func() []string { return st.View().Operations })
	st.OnReset(rec.Clear)
	eng := deliveries.New(db, log, st.Now, st.DeliveryFault)
	st.Deliveries = eng
	st.OnReset(eng.Clear)
	st.OnClockMove(eng.Kick)
	mux := http.NewServeMux()
	st.Routes(mux)
	rec.Routes(mux)
	eng.Routes(mux)
	for _, register := range providers {
		register(mux, st, log)
	}
	mux.Handle("GET /assets/", http.StripPrefix("/assets/", http.FileServerFS(mustSub(static.FS, "sandbox"))))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		// The page shows what other origins sent (redacted, escaped); its
		// one script is the sandbox's own file.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		v := indexView(st)
		v.Exchanges = exchangesView(r, rec, v.State)
		v.Deliveries = deliveriesView(eng)
		_ = sandboxviews.Index(v).Render(r.Context(), w)
	})
	if err := st.Open(context.Background(), db, log); err != nil {
		db.Close()
		return nil, err
	}
	if err := eng.Load(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	// After Open: the providers' signers need their restored registrations.
	eng.Start()
	// Record outside Wrap, to see what went out (a lost answer as lost);
	// Matched right around the mux, to see the pattern it matched.
	h := logRequests(log, mux, rec.Record(st.Wrap(exchanges.Matched(mux))))
	return &Sandbox{State: st, Exchanges: rec, Deliveries: eng, handler: h, db: db}, nil
}

// indexDeliveries is how many deliveries the index lists.
const indexDeliveries = 50

// deliveriesView is the index's "Deliveries": the latest, newest first.
func deliveriesView(eng *deliveries.Engine) []sandboxviews.DeliveryView {
	list := eng.List(indexDeliveries)
	out := make([]sandboxviews.DeliveryView, 0, len(list))
	for _, d := range slices.Backward(list) {
		v := sandboxviews.DeliveryView{ID: d.ID, Event: d.Event, Ref: d.Ref, URL: d.URL, State: d.State, Note: d.Note,
			Created: d.Created, Body: d.Body}
		if d.NextAt != nil {
			v.Next = d.NextAt.UTC().Format("2006-01-02 15:04:05")
		}
		for _, a := range d.Attempts {
			av := sandboxviews.AttemptView{Kind: a.Kind, At: a.SandboxTime, Outcome: a.Error,
				Latency: strconv.FormatFloat(a.LatencyMS, 'f', 1, 64) + " ms"}
			if a.Status != 0 {
				av.Outcome = strconv.Itoa(a.Status) + " " + http.StatusText(a.Status)
			}
			v.Attempts = append(v.Attempts, av)
		}
		out = append(out, v)
	}
	return out
}

// indexExchanges is how many exchanges the index lists.
const indexExchanges = 50

// exchangesView is the index's "Latest exchanges": the latest of them that
// the form's provider and operation choose.
func exchangesView(r *http.Request, rec *exchanges.Recorder, state sandboxviews.StateView) sandboxviews.ExchangesView {
	q := r.URL.Query()
	v := sandboxviews.ExchangesView{Provider: q.Get("provider"), Operation: q.Get("operation"), Providers: exchanges.Providers}
	for _, c := range state.Calls {
		v.Operations = append(v.Operations, c.Operation)
	}
	f, err := rec.ParseFilter(url.Values{"provider": {v.Provider}, "operation": {v.Operation}})
	if err != nil {
		v.Error = "Nothing listed: " + err.Error()
		return v
	}
	f.Limit = indexExchanges
	list, err := rec.List(r.Context(), f)
	if err != nil {
		v.Error = "The recorded exchanges could not be read; the sandbox's log says why."
		return v
	}
	for _, x := range list {
		status := strconv.Itoa(x.Status)
		if x.Lost {
			status = "answer lost"
		}
		v.List = append(v.List, sandboxviews.ExchangeView{
			ID: x.ID, At: x.At, Provider: x.Provider, Operation: x.Operation, Origin: x.Origin, Method: x.Method,
			Path: x.Path, Status: status, Duration: strconv.FormatFloat(x.DurationMS, 'f', 1, 64) + " ms",
			IdempotencyKey: x.IdempotencyKey, Refs: x.Refs,
			RequestHeaders: headerLines(x.RequestHeaders), RequestBody: x.RequestBody,
			ResponseHeaders: headerLines(x.ResponseHeaders), ResponseBody: x.ResponseBody,
		})
	}
	return v
}

// headerLines is h as "Name: value" lines, by name.
func headerLines(h http.Header) string {
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[name] {
			b.WriteString(name + ": " + v + "\n")
		}
	}
	return b.String()
}

// Close stops the deliveries' worker and closes the sandbox's file. Stop
// serving it first.
func (s *Sandbox) Close() error {
	s.Deliveries.Close()
	return s.db.Close()
}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func indexView(st *control.State) sandboxviews.IndexView {
	cfg := st.Config
	v := sandboxviews.IndexView{BaseURL: cfg.BaseURL, ShopURL: cfg.ShopBaseURL, State: stateView(st.View())}
	add := func(enabled bool, name, markets, base, real string, creds ...sandboxviews.Credential) {
		p := sandboxviews.ProviderView{Name: name, Markets: markets, BaseURL: cfg.BaseURL + base, RealURL: real, Emulated: enabled}
		if enabled {
			p.Credentials = creds
		}
		v.Providers = append(v.Providers, p)
	}
	k := cfg.Klarna
	add(k.Enabled, "Klarna Payments and Customer Token API, Europe", "Germany (EUR), Norway (NOK)", "/klarna/api", "https://api.playground.klarna.com",
		credential("Basic auth username", "KLARNA_USERNAME", k.Username),
		credential("Basic auth password", "KLARNA_PASSWORD", k.Password))
	add(k.Enabled, "Klarna Payments and Customer Token API, North America", "United States (USD)", "/klarna/api-na", "https://api-na.playground.klarna.com",
		credential("Basic auth username", "KLARNA_NA_USERNAME", k.NAUsername),
		credential("Basic auth password", "KLARNA_NA_PASSWORD", k.NAPassword))
	add(k.Enabled, "Klarna identity (Sign in with Klarna, OIDC issuers: Europe at the base, North America at /na/lp/idp)", "every market: the issuer of its region", "/klarna/login", "https://login.playground.klarna.com",
		credential("client_id", "KLARNA_CLIENT_ID", k.ClientID),
		credential("client_secret", "KLARNA_CLIENT_SECRET", k.ClientSecret),
		sandboxviews.Credential{Name: "redirect_uri", Value: cfg.ShopBaseURL + "/auth/klarna/callback"})
	add(k.Enabled, "Klarna Payments JS SDK", "wherever Klarna is offered", "/klarna/cdn/kp/lib/v1/api.js", "https://x.klarnacdn.net/kp/lib/v1/api.js")
	vp := cfg.Vipps
	add(vp.Enabled, "Vipps MobilePay (access token, ePayment v1, Webhooks v1)", "Norway (NOK): the sales unit's country", "/vipps", "https://apitest.vipps.no",
		credential("client_id", "VIPPS_CLIENT_ID", vp.ClientID),
		credential("client_secret", "VIPPS_CLIENT_SECRET", vp.ClientSecret),
		credential("Ocp-Apim-Subscription-Key", "VIPPS_SUBSCRIPTION_KEY", vp.SubscriptionKey),
		credential("Merchant-Serial-Number", "VIPPS_MSN", vp.MSN))
	a := cfg.Altpay
	add(a.Enabled, "Alternative Payments (partner API, checkout API)", "United States (USD, the one invoice currency)", "/altpay", "https://public-api.demo.alternativepayments.io",
		credential("client_id", "ALTPAY_CLIENT_ID", a.ClientID),
		credential("client_secret", "ALTPAY_CLIENT_SECRET", a.ClientSecret))
	if k.Enabled {
		for _, id := range klarnasignin.Identities {
			v.Identities = append(v.Identities, sandboxviews.Credential{Name: id.Name(), Value: id.Email})
		}
	}
	return v
}

// credential is one accepted credential as the index lists it. Like the
// shop's start banner it shows only the built-in default, a public test
// value; a value someone set themselves (in env) is theirs and may be a real
// secret, so the page only says it is set. (The banner asks whether the
// variable is set; the sandbox has only the value, and a value equal to the
// public default reveals nothing.)
func credential(label, env, value string) sandboxviews.Credential {
	if value != config.Defaults[env] {
		value = "(set in the environment; not shown)"
	}
	return sandboxviews.Credential{Name: label + " (" + env + ")", Value: value}
}

// stateView maps the control state into the index's view model: the settings
// in the order the index has always listed them, each formatted for reading,
// and every declared operation with its call count.
func stateView(s control.StateView) sandboxviews.StateView {
	set := s.Settings
	dur := func(d control.Duration) string { return d.D().String() }
	v := sandboxviews.StateView{Now: s.Now, Settings: []sandboxviews.SettingView{
		{Name: "klarna_access_token_ttl", Value: dur(set.KlarnaAccessTokenTTL)},
		{Name: "klarna_refresh_token_ttl", Value: dur(set.KlarnaRefreshTokenTTL)},
		{Name: "klarna_auto_consent", Value: strconv.Quote(set.KlarnaAutoConsent)},
		{Name: "klarna_rotate_customer_tokens", Value: strconv.FormatBool(set.KlarnaRotateCustomerTokens)},
		{Name: "klarna_create_order_idempotent", Value: strconv.FormatBool(set.KlarnaCreateOrderIdempotent)},
		{Name: "vipps_access_token_ttl", Value: dur(set.VippsAccessTokenTTL)},
		{Name: "vipps_msn_country", Value: set.VippsMSNCountry},
		{Name: "altpay_oauth_token_ttl", Value: dur(set.AltpayOAuthTokenTTL)},
		{Name: "altpay_checkout_token_ttl", Value: dur(set.AltpayCheckoutTokenTTL)},
	}}
	for _, op := range s.Operations {
		v.Calls = append(v.Calls, sandboxviews.CallView{Operation: op, Calls: s.Calls[op]})
	}
	for _, op := range slices.Sorted(maps.Keys(s.Faults)) {
		f := s.Faults[op]
		what := "answer lost (a delivery: not sent)"
		switch {
		case f.Duplicate:
			what = "sent twice"
		case f.Reorder:
			what = "held back until the next delivery has gone"
		}
		if !f.LoseAnswer && !f.Duplicate && !f.Reorder {
			what = "status " + strconv.Itoa(f.Status)
			if f.Status == 0 {
				what = "delay only"
			}
		}
		what += ", the next " + strconv.Itoa(f.Times) + " call(s)"
		if f.Delay.D() > 0 {
			what += ", after " + f.Delay.D().String()
		}
		v.Faults = append(v.Faults, sandboxviews.FaultView{Operation: op, What: what})
	}
	return v
}

// logRequests writes one line per sandbox request: method, path pattern,
// status, duration. Query strings are not logged (they carry codes and tokens).
func logRequests(log *slog.Logger, mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		// The mux sets Pattern on the copy of r that reached it (the layers
		// in between add to its context), never on r: ask the mux which
		// pattern r matches.
		_, pattern := mux.Handler(r)
		log.LogAttrs(r.Context(), slog.LevelDebug, "sandbox request",
			slog.String("method", r.Method), slog.String("pattern", pattern),
			slog.Int("status", sw.status), slog.Duration("duration", time.Since(start)))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
