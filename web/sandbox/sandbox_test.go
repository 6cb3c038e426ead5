package sandbox

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"refshop/web/sandbox/control"
)

func TestIndexListsProvidersAndOnlySandboxCredentials(t *testing.T) {
	cfg := control.Config{
		BaseURL: "http://localhost:8081", ShopBaseURL: "http://localhost:8080",
		Klarna: control.KlarnaConfig{Enabled: true, Username: "klarna-user", Password: "klarna-pass"},
		Vipps:  control.VippsConfig{Enabled: false, ClientSecret: "real-vipps-secret", SubscriptionKey: "real-key"},
		Altpay: control.AltpayConfig{Enabled: true, ClientID: "alt-id", ClientSecret: "alt-secret"},
	}
	sb := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	srv := httptest.NewServer(sb)
	defer srv.Close()
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
	for _, want := range []string{"http://localhost:8081/klarna/api", "http://localhost:8081/altpay", "klarna-pass", "alt-secret",
		"/control/state", "/control/reset", "/control/settings", "/control/clock", "/control/faults", "vipps_access_token_ttl",
		"Klarna test identities", "anna.schmidt@example.com", "Anna Schmidt", "jonas.weber@example.com", "Mia Svensson"} {
		if !strings.Contains(page, want) {
			t.Errorf("index lacks %q", want)
		}
	}
	// A provider in real mode is not emulated, and its real credentials never show.
	for _, secret := range []string{"real-vipps-secret", "real-key"} {
		if strings.Contains(page, secret) {
			t.Errorf("index shows a real credential %q", secret)
		}
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
