package grants_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"refshop/web/klarnasignin"
	"refshop/web/klarnasignin/grants"
	"refshop/web/outbound/outboundtest"
	"refshop/web/secret"
)

// The Sign in with Klarna client (and the keeper that refreshes with it)
// through the recorder, against the sandbox: one exchange per request,
// each labelled with its operation and path, the account's calls under the
// account, a 503's retry of a refresh as try 2, the userinfo repeated with
// a refreshed token after a 401 as the same call's try 2, and no
// credential, code, verifier or token in any field. (Here, not in
// web/klarnasignin: this package has the sandbox world with a store.)
func TestTheRecorderSeesEverySignInWithKlarnaCallRedacted(t *testing.T) {
	w := newWorld(t)
	rec := outboundtest.New(t, nil)
	w.client = klarnasignin.New(klarnasignin.Config{
		Issuer: w.issuer(), ClientID: testClientID, ClientSecret: secret.New(testClientSecret),
		RedirectURL: "http://shop.test/auth/klarna/callback",
		HTTP:        rec.Client, Clock: w.sb.State.Clock, Backoff: []time.Duration{time.Millisecond},
	})
	w.grants = grants.New(grants.Config{Client: w.client, Issuer: w.issuer(), Store: w.store, Box: w.box, Wall: w.wall, Poll: 5 * time.Millisecond})
	ctx := context.Background()

	uid, first := w.signIn("anna.schmidt@example.com")
	if _, err := w.grants.ConfirmedAccessToken(ctx, uid); err != nil {
		t.Fatal(err)
	}
	// Klarna refuses the access token once (401), and its token endpoint is
	// down for one call (503): the keeper refreshes, the client retries the
	// refresh, and the userinfo goes again with the new token.
	w.post("/control/faults", `{"operation": "klarna.userinfo", "status": 401, "times": 1}`)
	w.post("/control/faults", `{"operation": "klarna.token_refresh", "status": 503, "times": 1}`)
	at, err := w.grants.ConfirmedAccessToken(ctx, uid)
	if err != nil || at.Reveal() == first.AccessToken.Reveal() {
		t.Fatalf("after a 401: %v (a new token: %v)", err, at.Reveal() != first.AccessToken.Reveal())
	}
	rt := w.storedRefresh(uid)
	if err := w.client.Revoke(ctx, secret.New(rt)); err != nil {
		t.Fatal(err)
	}

	const idp = "/klarna/login/eu/lp/idp"
	// "account": recorded under the account (the keeper's calls).
	want := []string{
		`discovery /klarna/login/.well-known/openid-configuration GET 200 try 1 "" account false`,
		`token_code ` + idp + `/oauth2/token POST 200 try 1 "" account false`,
		`jwks ` + idp + `/.well-known/jwks.json GET 200 try 1 "" account false`,
		`userinfo ` + idp + `/userinfo GET 200 try 1 "" account true`,
		`userinfo ` + idp + `/userinfo GET 401 try 1 "" account true`,
		`token_refresh ` + idp + `/oauth2/token POST 503 try 1 "" account true`,
		`token_refresh ` + idp + `/oauth2/token POST 200 try 2 "503" account true`,
		`userinfo ` + idp + `/userinfo GET 200 try 2 "401" account true`,
		`revoke /klarna/login/oauth2/revoke POST 200 try 1 "" account false`,
	}
	xs := rec.Exchanges(t)
	var got []string
	for _, x := range xs {
		if x.Provider != "klarna" || x.Error != "" || x.IdempotencyKey != "" {
			t.Errorf("exchange %+v", x)
		}
		got = append(got, fmt.Sprintf("%s %s %s %d try %d %q account %v", x.Operation, x.PathTemplate, x.Method, x.Status, x.Try,
			x.RetryReason, x.UserID == uid))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("recorded\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A userinfo answer the shop does not need is still read, so its
	// record shows what Klarna answered.
	if x := xs[3]; x.Operation != "userinfo" || !strings.Contains(x.RespBody, `"sub"`) {
		t.Errorf("the accepted userinfo's recorded answer: %q", x.RespBody)
	}
	if n := rec.Requests(); n != len(xs) {
		t.Errorf("%d requests sent, %d recorded", n, len(xs))
	}
	// The client secret, the code and its verifier, two access, refresh and
	// ID tokens at least.
	if n := rec.NoSecretRecorded(t, testClientSecret, first.RefreshToken.Reveal(), rt); n < 8 {
		t.Errorf("only %d secrets checked: %v", n, rec.Secrets())
	}
}
