package sandbox

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"refshop/web/config"
	"refshop/web/sandbox/control"
)

// The index shows the credentials the sandbox accepts, as the shop's start
// banner does: the built-in defaults (public test values) in full, and a
// value someone set themselves not at all. A provider in real mode is not
// emulated and shows no credentials.
func TestIndexShowsDefaultCredentialsAndHidesOnesSetByTheUser(t *testing.T) {
	d := config.Defaults
	cfg := control.Config{
		BaseURL: "http://localhost:8081", ShopBaseURL: "http://localhost:8080",
		Klarna: control.KlarnaConfig{Enabled: true, Username: d["KLARNA_USERNAME"], Password: "my-klarna-password",
			NAUsername: d["KLARNA_NA_USERNAME"], NAPassword: "my-klarna-na-password",
			ClientID: d["KLARNA_CLIENT_ID"], ClientSecret: "my-klarna-client-secret"},
		Vipps:  control.VippsConfig{Enabled: false, ClientSecret: "real-vipps-secret", SubscriptionKey: "real-key"},
		Altpay: control.AltpayConfig{Enabled: true, ClientID: "my-altpay-id", ClientSecret: d["ALTPAY_CLIENT_SECRET"]},
	}
	srv := serve(t, cfg)
	res, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	page := string(body)
	if res.StatusCode != 200 {
		t.Fatalf("index: %d", res.StatusCode)
	}
	for _, want := range []string{"http://localhost:8081/klarna/api", "http://localhost:8081/klarna/api-na", "http://localhost:8081/altpay",
		d["KLARNA_NA_USERNAME"], "United States (USD)", "Norway (NOK)",
		d["KLARNA_USERNAME"], d["KLARNA_CLIENT_ID"], d["ALTPAY_CLIENT_SECRET"], "http://localhost:8080/auth/klarna/callback",
		"/control/state", "/control/reset", "/control/settings", "/control/clock", "/control/faults", "vipps_access_token_ttl",
		"Klarna test identities", "anna.schmidt@example.com", "Anna Schmidt", "jonas.weber@example.com", "Mia Svensson"} {
		if !strings.Contains(page, want) {
			t.Errorf("index lacks %q", want)
		}
	}
	for _, secret := range []string{"my-klarna-password", "my-klarna-na-password", "my-klarna-client-secret", "my-altpay-id", "real-vipps-secret", "real-key"} {
		if strings.Contains(page, secret) {
			t.Errorf("index shows %q, a value the user set", secret)
		}
	}
	if n := strings.Count(page, "set in the environment; not shown"); n != 4 {
		t.Errorf("%d credentials say they are hidden, want 4 (Klarna's two passwords and client secret, altpay client id)", n)
	}
	if !strings.Contains(page, "not emulated") {
		t.Error("index does not say Vipps is not emulated")
	}

	css, err := http.Get(srv.URL + "/assets/sandbox.css")
	if err != nil || css.StatusCode != 200 {
		t.Fatalf("sandbox CSS: %v %v", err, css.StatusCode)
	}
	css.Body.Close()
}

// serve serves a sandbox provisioned with cfg, keeping its state in a
// directory of the test's, until the test ends.
func serve(t *testing.T, cfg control.Config) *httptest.Server {
	t.Helper()
	cfg.DataDir = t.TempDir()
	sb, err := New(cfg, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() {
		srv.Close()
		sb.Close()
	})
	return srv
}

// allProviders is a sandbox configuration emulating every provider.
func allProviders() control.Config {
	return control.Config{
		BaseURL: "http://localhost:8081", ShopBaseURL: "http://localhost:8080",
		Klarna: control.KlarnaConfig{Enabled: true, Username: "u", Password: "p", ClientID: "c", ClientSecret: "s"},
		Vipps:  control.VippsConfig{Enabled: true, ClientID: "id", ClientSecret: "sec", SubscriptionKey: "k", MSN: "123456"},
		Altpay: control.AltpayConfig{Enabled: true, ClientID: "alt-id", ClientSecret: "alt-secret"},
	}
}

func send(t *testing.T, method, url, body string, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// The sandbox's own pages post to their own origin, and the shop's page
// calls the Alternative Payments checkout API across origins with a bearer
// token and CORS: those keep working. The same posts from another site are
// refused before they reach the provider. (Each request below is one the
// provider would refuse anyway for its made-up token or challenge: the
// status tells who answered.)
func TestSandboxPagesRefuseCrossSitePostsAndKeepWorking(t *testing.T) {
	srv := serve(t, allProviders())
	form := "application/x-www-form-urlencoded"
	for _, c := range []struct {
		name, path, ctype, body string
		provider                int // the provider's own answer to a same-origin post
	}{
		{"Vipps landing page", "/vipps/landing", form, "token=nope&action=approve", http.StatusNotFound},
		{"Sign in with Klarna sign-in page", "/klarna/login/eu/lp/idp/signin", form, "challenge=nope", http.StatusBadRequest},
		{"Sign in with Klarna consent page", "/klarna/login/eu/lp/idp/consent", form, "challenge=nope&decision=allow", http.StatusBadRequest},
		{"Klarna widget", "/klarna/payments/widget/nope/authorize", "application/json", `{"client_token": "nope"}`, http.StatusUnauthorized},
	} {
		if res := send(t, "POST", srv.URL+c.path, c.body, "Content-Type", c.ctype, "Sec-Fetch-Site", "same-origin", "Origin", srv.URL); res.StatusCode != c.provider {
			t.Errorf("%s, same origin: %d, want the provider's %d", c.name, res.StatusCode, c.provider)
		}
		if res := send(t, "POST", srv.URL+c.path, c.body, "Content-Type", c.ctype, "Sec-Fetch-Site", "cross-site", "Origin", "http://evil.example"); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s, cross-site: %d, want 403", c.name, res.StatusCode)
		}
	}
	// The checkout API answers the shop's origin (another port: same site).
	res := send(t, "POST", srv.URL+"/altpay/checkout/payments", `{}`, "Content-Type", "application/json",
		"Authorization", "Bearer nope", "Origin", "http://localhost:8080", "Sec-Fetch-Site", "same-site")
	if res.StatusCode != http.StatusUnauthorized || res.Header.Get("Access-Control-Allow-Origin") != "http://localhost:8080" {
		t.Errorf("checkout API from the shop's page: %d, CORS %q; want the provider's 401 with CORS",
			res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
	}
	// The control routes the providers add take only JSON, from tools.
	for _, path := range []string{"/control/klarna/login/revoke", "/control/klarna/sessions/nope/authorize"} {
		if res := send(t, "POST", srv.URL+path, `{}`, "Content-Type", "application/json", "Sec-Fetch-Site", "cross-site"); res.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d, want 403", path, res.StatusCode)
		}
		if res := send(t, "POST", srv.URL+path, `{}`, "Content-Type", "text/plain"); res.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain POST %s: %d, want 415", path, res.StatusCode)
		}
	}
	// Servers send no Origin: the provider APIs answer them as before.
	for _, base := range []string{"/klarna/api", "/klarna/api-na"} {
		if res := send(t, "POST", srv.URL+base+"/payments/v1/sessions", `{}`, "Content-Type", "application/json"); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("Klarna API (%s) from a server: %d, want the provider's 401", base, res.StatusCode)
		}
	}
	if res := send(t, "POST", srv.URL+"/klarna/api/payments/v1/sessions", `{}`, "Content-Type", "text/plain", "Sec-Fetch-Site", "cross-site"); res.StatusCode != http.StatusForbidden {
		t.Errorf("Klarna API from another site's page: %d, want 403", res.StatusCode)
	}
}

// The DEBUG line of each sandbox request names the route it matched, not
// the path as sent (which can carry tokens).
func TestRequestLinesNameTheMatchedPattern(t *testing.T) {
	var logs bytes.Buffer
	cfg := allProviders()
	cfg.DataDir = t.TempDir()
	sb, err := New(cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(func() {
		srv.Close()
		sb.Close()
	})
	res, err := http.Get(srv.URL + "/vipps/epayment/v1/payments/refshop-secret-reference")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	line := logs.String()
	if !strings.Contains(line, `pattern="GET /vipps/epayment/v1/payments/{reference}"`) || strings.Contains(line, "secret-reference") {
		t.Errorf("the request line: %s", line)
	}
}

// The index shows what the control API set: the settings (all of them) and
// each pending fault, with a way to clear it.
func TestIndexShowsPendingFaultsAndEverySetting(t *testing.T) {
	srv := serve(t, allProviders())
	body := func() string {
		res, err := http.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	if page := body(); !strings.Contains(page, "vipps_msn_country") || !strings.Contains(page, `data-testid="no-faults"`) {
		t.Fatal("the index lacks a setting, or lists faults nobody set")
	}
	req, _ := http.NewRequest("POST", srv.URL+"/control/faults", strings.NewReader(`{"operation":"vipps.create_payment","status":503,"times":2,"delay":"2s"}`))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("setting a fault: %v %v", res, err)
	}
	res.Body.Close()
	page := body()
	for _, want := range []string{`data-operation="vipps.create_payment"`, "status 503, the next 2 call(s), after 2s",
		"curl -X DELETE http://localhost:8081/control/faults/vipps.create_payment", `src="/assets/index.js"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the index lacks %q", want)
		}
	}
	if res, err := http.Get(srv.URL + "/assets/index.js"); err != nil || res.StatusCode != 200 {
		t.Errorf("the index's script: %v %v", res, err)
	}
}
