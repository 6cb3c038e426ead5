package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"refshop/db"
	"refshop/web/outbound"
)

// recordedKlarnaSignInShop is a Sign in with Klarna shop whose outbound
// client records into its store, as cmd/shop wires it.
func recordedKlarnaSignInShop(t *testing.T) (*klarnaSignInShop, *outbound.Recorder) {
	t.Helper()
	var rec *outbound.Recorder
	k := newKlarnaSignInShop(t, func(d *Deps) {
		rec = outbound.NewRecorder(ExchangeSink(d.Store), d.Log, time.Now)
		d.HTTP = &http.Client{Timeout: 10 * time.Second, Transport: &outbound.Recording{Next: d.HTTP.Transport, Rec: rec}}
		d.Recorder = rec
	})
	t.Cleanup(rec.Close)
	return k, rec
}

// signInCalls is the account's recorded code exchanges (token_code). (The
// ID token's keys are fetched with the discovery's context, at the start
// of the first sign-in, and recorded under that request.)
func signInCalls(t *testing.T, k *klarnaSignInShop, rec *outbound.Recorder, userID int64) []db.Exchange {
	t.Helper()
	if err := rec.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	mine, err := k.Store.ExchangesByUser(t.Context(), userID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []db.Exchange
	for _, x := range mine {
		if x.Operation == "token_code" {
			out = append(out, x)
		}
	}
	return out
}

// The code exchange of a Sign in with Klarna runs before the shop knows
// whose sign-in it is; once the callback knows the account (made now, or
// found again), the exchange's calls are filed under it. Connecting
// Klarna to a signed-in account records them under it from the start.
func TestASignInsCodeExchangeIsFiledUnderItsAccount(t *testing.T) {
	k, rec := recordedKlarnaSignInShop(t)

	b := k.browser(t)
	if p := k.signInWithKlarna(t, b, "mia.svensson@example.com"); p.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", p.status)
	}
	mia := k.userID(t, b)
	first := signInCalls(t, k, rec, mia)
	if len(first) != 1 || first[0].Operation != "token_code" || first[0].Status != 200 || first[0].RequestID == "" {
		t.Fatalf("the new account's sign-in calls: %+v", first)
	}

	// The same identity again, in another browser: the account is found.
	b2 := k.browser(t)
	if p := k.signInWithKlarna(t, b2, "mia.svensson@example.com"); p.status != http.StatusSeeOther || k.userID(t, b2) != mia {
		t.Fatalf("second sign-in: %d", p.status)
	}
	again := signInCalls(t, k, rec, mia)
	if len(again) != 2 || again[1].RequestID == first[0].RequestID {
		t.Fatalf("the second sign-in's calls are not the account's: %+v", again)
	}

	// Connect from a signed-in account.
	c := k.browser(t)
	c.signUp("ola@example.com")
	ola := k.userID(t, c)
	if p := c.get(k.authorize(t, k.start(t, c, "/account/klarna/connect"), "ola.nordmann@example.com")); p.status != http.StatusSeeOther {
		t.Fatalf("connect: %d", p.status)
	}
	if xs := signInCalls(t, k, rec, ola); len(xs) != 1 || xs[0].Status != 200 {
		t.Fatalf("the connect's calls: %+v", xs)
	}

	// No code exchange is left unfiled.
	var unfiled int
	if err := k.DB.Read.QueryRow(`SELECT count(*) FROM exchanges WHERE operation = 'token_code' AND user_id IS NULL`).Scan(&unfiled); err != nil {
		t.Fatal(err)
	}
	if unfiled != 0 {
		t.Errorf("%d code exchanges belong to no account", unfiled)
	}
}

// A code exchange that outlives the callback's request is taken by the
// next look, another request: its calls are filed under the account all
// the same.
func TestASlowSignInsCodeExchangeIsFiledUnderItsAccount(t *testing.T) {
	k, rec := recordedKlarnaSignInShop(t)
	b := k.browser(t)
	back := k.authorize(t, k.start(t, b, "/auth/klarna/start"), "mia.svensson@example.com")
	k.ProviderDeadline = 20 * time.Millisecond
	k.sb.Delay(t, "klarna.token_code", "300ms", 1)
	if p := b.get(back); p.status != http.StatusOK || !strings.Contains(p.body, "Klarna is slow to confirm your sign-in") {
		t.Fatalf("callback past the deadline: %d", p.status)
	}
	var done page
	eventually(t, "the next look signs in", func() bool {
		done = b.get("/auth/klarna/resume")
		return done.status != http.StatusOK
	})
	if done.status != http.StatusSeeOther {
		t.Fatalf("the look after the exchange: %d", done.status)
	}
	if xs := signInCalls(t, k, rec, k.userID(t, b)); len(xs) != 1 || xs[0].Status != 200 {
		t.Fatalf("the slow sign-in's calls: %+v", xs)
	}
}
