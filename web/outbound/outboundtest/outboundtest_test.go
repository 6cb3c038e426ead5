package outboundtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"refshop/web/outbound"
)

// failures is a testing.TB that notes failures instead of failing.
type failures struct {
	testing.TB
	msgs []string
}

func (f *failures) Errorf(format string, args ...any) {
	f.msgs = append(f.msgs, fmt.Sprintf(format, args...))
}
func (f *failures) Helper() {}

// The spy notes what goes out and comes in as secrets, and the check finds
// any of them in any field of an exchange.
func TestTheSpySeesSecretsAndTheCheckFindsThem(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"issued-access-token-123456","code":"invalid_grant","next":"https://x/?token=landing-token-987654"}`)
	}))
	defer srv.Close()
	rec := New(t, nil)
	req, _ := http.NewRequestWithContext(outbound.WithOp(context.Background(), outbound.Op{Provider: "altpay", Name: "oauth_token"}),
		"POST", srv.URL, strings.NewReader("grant_type=client_credentials&client_secret=the-client-secret-000"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("user", "basic-password-000")
	res, err := rec.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(res.Body)
	res.Body.Close()

	seen := strings.Join(rec.Secrets(), " ")
	for _, s := range []string{"issued-access-token-123456", "landing-token-987654", "the-client-secret-000", "basic-password-000"} {
		if !strings.Contains(seen, s) {
			t.Errorf("the spy did not see %s: %s", s, seen)
		}
	}
	if strings.Contains(seen, "invalid_grant") {
		t.Error("a JSON error code taken for a secret")
	}
	f := &failures{TB: t}
	if rec.NoSecretRecorded(f); len(f.msgs) != 0 {
		t.Errorf("the redacted exchange: %v", f.msgs)
	}
	// An exchange holding one, in any field, is found.
	rec.mu.Lock()
	rec.xs = append(rec.xs, outbound.Exchange{Provider: "altpay", RetryReason: "x issued-access-token-123456"},
		outbound.Exchange{Provider: "altpay", RespHeader: http.Header{"X": {"landing-token-987654"}}})
	rec.mu.Unlock()
	rec.NoSecretRecorded(f)
	if msgs := strings.Join(f.msgs, "\n"); !strings.Contains(msgs, "in RetryReason") || !strings.Contains(msgs, "in RespHeader") {
		t.Errorf("found: %s", msgs)
	}
}
