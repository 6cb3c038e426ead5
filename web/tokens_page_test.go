package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"refshop/db/dbtest"
	"refshop/web/outbound"
	"refshop/web/secret"
)

// tokenArticles are the token entries of a page's section sel, by kind.
func tokenArticles(t *testing.T, doc *goquery.Document, sel string) map[string][]*goquery.Selection {
	t.Helper()
	sec := doc.Find(sel)
	if sec.Length() != 1 {
		t.Fatalf("%d %s sections", sec.Length(), sel)
	}
	out := map[string][]*goquery.Selection{}
	sec.Find("article[data-testid=token]").Each(func(_ int, a *goquery.Selection) {
		h := a.Find("h3, h4").First().Clone()
		h.Find("code").Remove()
		kind := strings.TrimSpace(h.Text())
		out[kind] = append(out[kind], a)
	})
	return out
}

func fingerprintOf(a *goquery.Selection) string {
	return strings.TrimSpace(a.Find("[data-testid=token-fingerprint]").Text())
}

// events is a token entry's events, each as its text with spaces folded.
func events(a *goquery.Selection) []string {
	var out []string
	a.Find("li[data-testid=token-event]").Each(func(_ int, li *goquery.Selection) {
		out = append(out, strings.Join(strings.Fields(li.Text()), " "))
	})
	return out
}

// The order page's "Tokens this payment used": the Vipps access token, by
// the fingerprint its marks in the list show, obtained by the first call
// with its hour and presented by the creates, the get, the event log and
// the back office's capture,
// each event linking to its call in the list. A second order on the same
// process shows the same token, fetched before its calls: one per process.
// No token appears in full.
func TestTheOrderPageShowsTheTokensThePaymentUsed(t *testing.T) {
	v, b, id, _, secrets := paidWithARetry(t)
	access := secrets[0] // the spy's first credential: the create's Bearer token
	_, doc := b.orderPage(t, id)

	toks := tokenArticles(t, doc, "section[data-testid=exchanges] section[data-testid=tokens]")
	if len(toks) != 1 || len(toks["Vipps access token"]) != 1 {
		t.Fatalf("tokens %v, want one Vipps access token", toks)
	}
	tok := toks["Vipps access token"][0]
	if got := fingerprintOf(tok); got != secret.Tag(access) {
		t.Errorf("fingerprint %q, want the access token's %q", got, secret.Tag(access))
	}
	if st := tok.Find("[data-testid=token-state]").Text(); !strings.Contains(st, "Expires at") || !strings.Contains(st, "Lifetime 1 hour.") {
		t.Errorf("state %q", st)
	}
	evs := events(tok)
	if len(evs) < 6 || !strings.Contains(evs[0], "Obtained in the answer's access_token from call 1: get an access token") ||
		!strings.Contains(evs[1], "Used as the Authorization header (use 1), answered 503 Service Unavailable, in call 2: create the payment") ||
		!strings.Contains(evs[2], "Used as the Authorization header (use 2) in call 3: create the payment") ||
		!strings.Contains(evs[5], "call 6: capture the payment") {
		t.Errorf("events:\n%s", strings.Join(evs, "\n"))
	}
	// Every event links to its call in the list.
	tok.Find("li[data-testid=token-event] a").Each(func(i int, a *goquery.Selection) {
		href := a.AttrOr("href", "")
		if !strings.HasPrefix(href, "#exchange-") || doc.Find(href).Length() != 1 {
			t.Errorf("event %d links to %q, which is not a call on the page", i+1, href)
		}
	})
	if href := tok.Find("li[data-testid=token-event] a").Eq(1).AttrOr("href", ""); href != "#exchange-2" {
		t.Errorf("the first create's event links to %q", href)
	}
	noSecretIn(t, "the tokens section", doc.Find("section[data-testid=tokens]").Text(), secrets)

	// A second payment by the same process reuses the token.
	landing := v.startPayment(t, b)
	back := v.answer(t, landing, "approve")
	b.get(back)
	p, doc := b.orderPage(t, orderIDFrom(t, back))
	toks = tokenArticles(t, doc, "section[data-testid=tokens]")
	tok = toks["Vipps access token"][0]
	if len(toks) != 1 || fingerprintOf(tok) != secret.Tag(access) {
		t.Fatalf("the second order's tokens: %v, fingerprint %q", toks, fingerprintOf(tok))
	}
	if o := tok.Find("[data-testid=token-origin]").Text(); !strings.Contains(o, "one Vipps access token per process") {
		t.Errorf("origin %q", o)
	}
	if evs := events(tok); !strings.HasPrefix(evs[0], tok.Find("time").First().Text()+" Used as the Authorization header (use 1) in call 1: create the payment") {
		t.Errorf("the second order's first event: %q", evs[0])
	}
	noSecretIn(t, "the second order page", p.body, append(secrets, landing.Query().Get("token")))
}

// The account page's "Tokens" after a sign-in with Klarna and two Klarna
// checkouts, the second after the access token's 5 minutes: the first
// access and refresh tokens (from the sign-in's code exchange), the refresh
// token the second checkout rotated, the tokens that refresh gave; no token
// in full.
func TestTheAccountPageShowsTheSignInWithKlarnaTokens(t *testing.T) {
	var rec *outbound.Recorder
	k := klarnaSignInShopOn(t, dbtest.Open(t), func(d *Deps) {
		rec = outbound.NewRecorder(ExchangeSink(d.Store), d.Log, time.Now)
		rec.SetProviderClock(d.ProviderClock.Now) // as cmd/shop does: the sandbox's
		d.HTTP = &http.Client{Timeout: 10 * time.Second, Transport: &outbound.Recording{Next: d.HTTP.Transport, Rec: rec}}
		d.Recorder = rec
	})
	t.Cleanup(rec.Close)
	b := k.browser(t)
	k.signInWithKlarna(t, b, "anna.schmidt@example.com")
	b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"1"}})
	k.payWithKlarna(t, b)
	k.st.Clock.Advance(6 * time.Minute) // past the access token's 5 minutes
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	k.payWithKlarna(t, b)
	sent := k.sessions.tokens()
	if len(sent) != 2 || sent[0] == sent[1] {
		t.Fatalf("%d sessions' access tokens", len(sent))
	}
	if err := rec.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}

	p := b.get("/account")
	doc := p.doc(t)
	toks := tokenArticles(t, doc, "section[data-testid=account-tokens]")
	access, refresh := toks["Sign in with Klarna access token"], toks["Sign in with Klarna refresh token"]
	if len(access) != 2 || len(refresh) != 2 || len(toks["Sign in with Klarna ID token"]) != 2 {
		t.Fatalf("tokens %v: want 2 access, 2 refresh and 2 ID tokens", toks)
	}

	if len(toks["Klarna session client_token"]) != 0 {
		t.Errorf("the account lists the sessions' client tokens, which are the payments'")
	}
	first, second := access[0], access[1]
	if fingerprintOf(first) != secret.Tag(sent[0]) || fingerprintOf(second) != secret.Tag(sent[1]) {
		t.Errorf("access tokens %q %q, want the sessions' %q %q", fingerprintOf(first), fingerprintOf(second),
			secret.Tag(sent[0]), secret.Tag(sent[1]))
	}
	// The sign-in's code exchange is filed under the account once the
	// callback knows it, so the first tokens show where they came from.
	if evs := events(first); !strings.HasSuffix(evs[0], "Obtained in the answer's access_token from Klarna: exchange the sign-in code for tokens") {
		t.Errorf("the first access token's first event %q", evs[0])
	}
	rotated := refresh[0]
	if st := strings.Join(strings.Fields(rotated.Find("[data-testid=token-state]").Text()), " "); !strings.HasPrefix(st,
		"Rotated: replaced by "+fingerprintOf(refresh[1])) {
		t.Errorf("the first refresh token's state %q", st)
	}
	evs := events(rotated)
	if len(evs) != 2 || !strings.HasSuffix(evs[0], "Obtained in the answer's refresh_token from Klarna: exchange the sign-in code for tokens") ||
		!strings.Contains(evs[1], "Rotated in the form's refresh_token (use 1), replaced by "+fingerprintOf(refresh[1])+
			" in Klarna: refresh the sign-in tokens (order ") {
		t.Errorf("the first refresh token's events:\n%s", strings.Join(evs, "\n"))
	}
	if href := rotated.Find("li a[href^='/orders/']").AttrOr("href", ""); !strings.Contains(href, "#exchange-") {
		t.Errorf("the refresh links to %q, not to its call on the order page", href)
	}
	if evs := events(second); !strings.Contains(evs[0], "Obtained in the answer's access_token, by refreshing "+fingerprintOf(rotated)+" from Klarna: refresh") {
		t.Errorf("the second access token's first event %q", evs[0])
	}
	if st := second.Find("[data-testid=token-state]").Text(); !strings.Contains(st, "Lifetime") {
		t.Errorf("the second access token's state %q", st)
	}
	// Lifetimes run on the provider's clock, which the test moved 6 minutes
	// on: the first access token has expired there, though not on the
	// shop's clock, and the page says whose times it shows.
	if st := first.Find("[data-testid=token-state]").Text(); !strings.Contains(st, "Expired at") {
		t.Errorf("the first access token's state %q, want expired on the provider's clock", st)
	}
	if note := doc.Find("section[data-testid=account-tokens] [data-testid=tokens-note]").Text(); !strings.HasPrefix(note, "Times here are on the provider's clock") {
		t.Errorf("note %q", note)
	}
	noSecretIn(t, "the account page", p.body, sent)
}
