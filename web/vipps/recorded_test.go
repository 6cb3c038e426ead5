package vipps_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"refshop/web/outbound/outboundtest"
	"refshop/web/vipps"
)

// The Vipps client through the recorder, against the sandbox: one exchange
// per request, each labelled with its operation and path template, the
// idempotency keys of the writes, a 503's retry as try 2, a 401's repeat
// with a new token as the same call's try 2, and no credential and no
// token the sandbox issued in any field.
func TestTheRecorderSeesEveryVippsCallRedacted(t *testing.T) {
	rec := outboundtest.New(t, nil)
	h := newHarness(t, func(c *vipps.Config) { c.HTTP = rec.Client })
	ctx := context.Background()
	ref := "refshop-recorded-0001"

	h.sb.Fault(t, "vipps.create_payment", http.StatusServiceUnavailable, 1)
	cr := h.create(ref) // key ref-create
	if err := h.client.ForceApprove(ctx, ref, "4791234567"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.Capture(ctx, ref, vipps.Amount{Currency: "NOK", Value: 4980}, ref+"-capture"); err != nil {
		t.Fatal(err)
	}
	// Only the sandbox clock moves: it refuses the token the client trusts.
	h.st.Clock.Advance(61 * time.Minute)
	if _, err := h.client.GetPayment(ctx, ref); err != nil {
		t.Fatal(err)
	}

	xs := rec.Exchanges(t)
	type row struct {
		op, path, method string
		status, try      int
		reason, key      string
	}
	want := []row{
		{"accesstoken", "/accesstoken/get", "POST", 200, 1, "", ""},
		{"create_payment", "/epayment/v1/payments", "POST", 503, 1, "", ref + "-create"},
		{"create_payment", "/epayment/v1/payments", "POST", 201, 2, "503", ref + "-create"},
		{"approve", "/epayment/v1/test/payments/{reference}/approve", "POST", 200, 1, "", ""},
		{"capture", "/epayment/v1/payments/{reference}/capture", "POST", 200, 1, "", ref + "-capture"},
		{"get_payment", "/epayment/v1/payments/{reference}", "GET", 401, 1, "", ""},
		{"accesstoken", "/accesstoken/get", "POST", 200, 1, "", ""},
		{"get_payment", "/epayment/v1/payments/{reference}", "GET", 200, 2, "401", ""},
	}
	var got, wanted []string
	for _, x := range xs {
		if x.Provider != "vipps" || x.Error != "" || !strings.Contains(x.URL, "/vipps/") {
			t.Errorf("exchange %+v", x)
		}
		got = append(got, fmt.Sprintf("%s %s %s %d try %d %q %q", x.Operation, x.PathTemplate, x.Method, x.Status, x.Try, x.RetryReason, x.IdempotencyKey))
	}
	for _, w := range want {
		wanted = append(wanted, fmt.Sprintf("%s %s %s %d try %d %q %q", w.op, w.path, w.method, w.status, w.try, w.reason, w.key))
	}
	if strings.Join(got, "\n") != strings.Join(wanted, "\n") {
		t.Errorf("recorded\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wanted, "\n"))
	}
	if n := rec.Requests(); n != len(xs) {
		t.Errorf("%d requests sent, %d recorded", n, len(xs))
	}
	// Two access tokens issued, the client secret, the subscription key and
	// the landing page's token at least.
	if n := rec.NoSecretRecorded(t, clientSec, subKey); n < 5 {
		t.Errorf("only %d secrets checked: %v", n, rec.Secrets())
	}
	if !strings.Contains(cr.RedirectURL, "token=") {
		t.Fatalf("no landing token in %q", cr.RedirectURL)
	}
}
