package altpay_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"refshop/web/altpay"
	"refshop/web/outbound/outboundtest"
	"refshop/web/secret"
)

// The Alternative Payments client through the recorder, against the
// sandbox: one exchange per request, each labelled with its operation and
// path template, no idempotency key (the API documents none), a 503's
// retry as try 2, a 401's repeat with a new token as the same call's try
// 2, and no credential, OAuth token or checkout JWT in any field.
func TestTheRecorderSeesEveryAltpayCallRedacted(t *testing.T) {
	w := newWorld(t)
	rec := outboundtest.New(t, nil)
	c := altpay.New(altpay.Config{BaseURL: w.sb.URL + "/altpay", ClientID: sbClientID, ClientSecret: secret.New(sbClientSecret),
		HTTP: rec.Client, Clock: w.clk, Sleep: func(_ context.Context, _ time.Duration) error { return nil }})
	cu, in := w.customerAndInvoice(c, "rec-1")
	w.fault("altpay.get_invoice", http.StatusServiceUnavailable, 1)
	if _, err := c.GetInvoice(t.Context(), in.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CheckoutToken(t.Context(), cu.ID, in.ID); err != nil {
		t.Fatal(err)
	}
	w.advanceSandbox("2h") // the provider expires the token; the client's clock has not moved
	if _, err := c.GetInvoice(t.Context(), in.ID); err != nil {
		t.Fatal(err)
	}

	want := []string{
		`oauth_token /oauth/token POST 200 try 1 ""`,
		`create_customer /customers POST 201 try 1 ""`,
		`create_invoice /invoices POST 201 try 1 ""`,
		`get_invoice /invoices/{id} GET 503 try 1 ""`,
		`get_invoice /invoices/{id} GET 200 try 2 "503"`,
		`checkout_auth_init /v1/checkout-auth/init POST 200 try 1 ""`,
		`get_invoice /invoices/{id} GET 401 try 1 ""`,
		`oauth_token /oauth/token POST 200 try 1 ""`,
		`get_invoice /invoices/{id} GET 200 try 2 "401"`,
	}
	xs := rec.Exchanges(t)
	var got []string
	for _, x := range xs {
		if x.Provider != "altpay" || x.Error != "" || x.IdempotencyKey != "" || !strings.Contains(x.URL, "/altpay/") {
			t.Errorf("exchange %+v", x)
		}
		got = append(got, fmt.Sprintf("%s %s %s %d try %d %q", x.Operation, x.PathTemplate, x.Method, x.Status, x.Try, x.RetryReason))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("recorded\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := rec.Requests(); n != len(xs) {
		t.Errorf("%d requests sent, %d recorded", n, len(xs))
	}
	// Two OAuth tokens, the checkout JWT, the client secret at least.
	if n := rec.NoSecretRecorded(t, sbClientSecret); n < 4 {
		t.Errorf("only %d secrets checked: %v", n, rec.Secrets())
	}
}
