package main

import (
	"bytes"
	"strings"
	"testing"

	"refshop/db"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/sandboxtest"
)

// The command against Alternative Payments' API (the sandbox, as if it were
// the real environment: ALTPAY_API_URL set).
func TestAltpayWebhookCommandRegistersOnceListsAndDeletes(t *testing.T) {
	sb := sandboxtest.Start(t, control.Config{BaseURL: "http://sandbox.test", ShopBaseURL: "https://shop.example",
		Altpay: control.AltpayConfig{Enabled: true, ClientID: "ap-client", ClientSecret: "ap-client-secret-123"}}, nil)
	dir := t.TempDir()
	env := map[string]string{"ALTPAY_API_URL": sb.URL + "/altpay", "ALTPAY_CLIENT_ID": "ap-client", "ALTPAY_CLIENT_SECRET": "ap-client-secret-123",
		"SHOP_BASE_URL": "https://shop.example", "SHOP_DATA_DIR": dir, "LOG_LEVEL": "ERROR"}
	getenv := func(k string) string { return env[k] }
	shop := func(args ...string) (string, error) {
		var out, errs bytes.Buffer
		err := runAltpayWebhook(t.Context(), args, getenv, &out, &errs)
		return out.String() + errs.String(), err
	}

	out, err := shop("register")
	if err != nil || !strings.HasPrefix(out, "Subscribed https://shop.example/webhooks/altpay to invoice_paid") {
		t.Fatalf("register: %v %s", err, out)
	}
	out, err = shop("register")
	if err != nil || !strings.HasPrefix(out, "Already subscribed; nothing changed:") {
		t.Fatalf("register again: %v %s", err, out)
	}
	if n := sb.State.Calls("altpay.create_webhook"); n != 1 {
		t.Fatalf("subscribed %d times, want once", n)
	}
	out, err = shop("list")
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, "(this shop's URL)") {
		t.Fatalf("list: %v %s", err, out)
	}
	id := strings.Fields(out)[0]

	// The recorded subscribe call keeps the secret_key redacted.
	database, err := db.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var body string
	err = database.Read.QueryRowContext(t.Context(), `SELECT req_body FROM exchanges WHERE operation = 'create_webhook'`).Scan(&body)
	database.Close()
	if err != nil || !strings.Contains(body, `"secret_key":"[redacted `) {
		t.Fatalf("recorded subscribe body %q, %v", body, err)
	}

	if out, err := shop("delete", "-id", id); err != nil || !strings.Contains(out, "Deleted subscription "+id) {
		t.Fatalf("delete: %v %s", err, out)
	}
	if out, _ := shop("list"); !strings.Contains(out, "No webhook subscriptions.") {
		t.Fatalf("list after delete: %s", out)
	}
	// The shop forgot the deleted one: register makes a new subscription.
	if out, err := shop("register"); err != nil || !strings.HasPrefix(out, "Subscribed") {
		t.Fatalf("register after delete: %v %s", err, out)
	}
}

func TestAltpayWebhookCommandRefusals(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"ALTPAY_API_URL": "http://127.0.0.1:1/altpay", "ALTPAY_CLIENT_ID": "x", "ALTPAY_CLIENT_SECRET": "y",
		"SHOP_BASE_URL": "http://shop.example", "SHOP_DATA_DIR": dir}
	for args, want := range map[string]string{
		"":           "usage: shop altpay-webhook",
		"frobnicate": "unknown command",
		"delete":     "-id is required",
		"list extra": "unexpected arguments",
		"register":   "HTTPS endpoints only",
	} {
		var out bytes.Buffer
		err := runAltpayWebhook(t.Context(), strings.Fields(args), func(k string) string { return env[k] }, &out, &out)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error saying %q", args, err, want)
		}
	}
}
