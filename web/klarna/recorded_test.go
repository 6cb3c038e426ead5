package klarna_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"refshop/web/clock"
	"refshop/web/klarna"
	"refshop/web/outbound/outboundtest"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/sandboxtest"
	"refshop/web/secret"
)

// The Klarna payments client through the recorder, against the sandbox:
// one exchange per request, each labelled with its operation and path
// template, the idempotency key of every write (under either of Klarna's
// header names), a 503's retry as try 2 with the same key, and neither the
// merchant's Basic credential nor any token (client_token,
// authorization_token, customer_token) in any field.
func TestTheRecorderSeesEveryKlarnaCallRedacted(t *testing.T) {
	sb := sandboxtest.Start(t, control.Config{ShopBaseURL: "http://shop.test",
		Klarna: control.KlarnaConfig{Enabled: true, Username: "PK_test", Password: "sandbox-pw"}},
		clock.NewManual(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)))
	rec := outboundtest.New(t, nil)
	c := klarna.New(klarna.Config{BaseURL: sb.URL + "/klarna/api", Username: "PK_test", Password: secret.New("sandbox-pw"),
		HTTP: rec.Client, Sleep: func(context.Context, time.Duration) error { return nil }})
	e := &env{t: t, sb: sb, url: sb.URL, c: c}
	ctx := context.Background()

	items := cart(map[string]int64{"sencha": 2})
	req := sessionFor(items, secret.Secret{})
	sb.Fault(t, "klarna.create_session", http.StatusServiceUnavailable, 1)
	s, err := c.CreateSession(ctx, req, "rec-create-session")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadSession(ctx, s.SessionID); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateSession(ctx, s.SessionID, req, "rec-update-session"); err != nil {
		t.Fatal(err)
	}
	auth := e.approve(s.SessionID, true)
	o, err := c.CreateOrder(ctx, auth, orderFor(req), "rec-create-order")
	if err != nil || o.CustomerToken.IsZero() {
		t.Fatalf("order %+v: %v", o, err)
	}
	// The next purchase sends the linked account's customer token.
	tok := o.CustomerToken
	req2 := sessionFor(items, tok)
	s2, err := c.CreateSession(ctx, req2, "rec-create-session-2")
	if err != nil {
		t.Fatal(err)
	}
	auth2 := e.approve(s2.SessionID, true)
	if _, err := c.CreateOrder(ctx, auth2, orderFor(req2), "rec-create-order-2"); err != nil {
		t.Fatal(err)
	}
	// The Customer Token API does not know an account-linking token: a 404
	// whose path holds the token.
	if _, err := c.ReadCustomerToken(ctx, tok); klarna.StatusOf(err) != http.StatusNotFound {
		t.Fatalf("read the token: %v", err)
	}

	want := []string{
		`create_session /payments/v1/sessions POST 503 try 1 "" "rec-create-session"`,
		`create_session /payments/v1/sessions POST 200 try 2 "503" "rec-create-session"`,
		`read_session /payments/v1/sessions/{session_id} GET 200 try 1 "" ""`,
		`update_session /payments/v1/sessions/{session_id} POST 204 try 1 "" "rec-update-session"`,
		`create_order /payments/v1/authorizations/{authorization_token}/order POST 200 try 1 "" "rec-create-order"`,
		`create_session /payments/v1/sessions POST 200 try 1 "" "rec-create-session-2"`,
		`create_order /payments/v1/authorizations/{authorization_token}/order POST 200 try 1 "" "rec-create-order-2"`,
		`customer_token_read /customer-token/v1/tokens/{customer_token} GET 404 try 1 "" ""`,
	}
	xs := rec.Exchanges(t)
	var got []string
	for _, x := range xs {
		if x.Provider != "klarna" || x.Error != "" || !strings.Contains(x.URL, "/klarna/api/") {
			t.Errorf("exchange %+v", x)
		}
		got = append(got, fmt.Sprintf("%s %s %s %d try %d %q %q", x.Operation, x.PathTemplate, x.Method, x.Status, x.Try, x.RetryReason, x.IdempotencyKey))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("recorded\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := rec.Requests(); n != len(xs) {
		t.Errorf("%d requests sent, %d recorded", n, len(xs))
	}
	// The authorization token came from the widget (the control API here),
	// not through the client: named here.
	if n := rec.NoSecretRecorded(t, "sandbox-pw", auth, auth2, tok.Reveal()); n < 6 {
		t.Errorf("only %d secrets checked: %v", n, rec.Secrets())
	}
}
