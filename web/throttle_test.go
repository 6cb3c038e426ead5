package web

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"refshop/db"
	"refshop/db/dbtest"
	"refshop/web/clock"
	"refshop/web/config"
)

// behindProxy configures the shop as behind a proxy on loopback (where the
// test server's peer is) that names the client in X-Forwarded-For.
func behindProxy(d *Deps) { behind(config.XForwardedFor)(d) }

// behind configures the shop as behind a proxy on loopback that names the
// client in header.
func behind(header string) func(*Deps) {
	return func(d *Deps) {
		d.Config.ClientIPHeader = header
		_, lo, _ := net.ParseCIDR("127.0.0.0/8")
		d.Config.TrustedProxies = []*net.IPNet{lo}
	}
}

// postFrom is post with a client address in the header the shop is
// configured to read (X-Forwarded-For when none is: a forged one).
func (b *browser) postFrom(addr, path string, form url.Values) page {
	b.tb.Helper()
	req, _ := http.NewRequest("POST", b.app.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set(cmp.Or(b.app.Config.ClientIPHeader, config.XForwardedFor), addr)
	return b.do(req)
}

func signInForm(email, password string) url.Values {
	return url.Values{"email": {email}, "password": {password}}
}

// newAccounts makes an account for each email and signs its browser out.
func (t *testApp) newAccounts(tb testing.TB, emails ...string) {
	tb.Helper()
	for _, e := range emails {
		b := t.browser(tb)
		b.signUp(e)
		b.post("/signout", nil)
	}
}

// retryAfter is the Retry-After of a 429, in seconds; it fails the test
// for any other answer.
func retryAfter(tb testing.TB, p page) int {
	tb.Helper()
	secs, err := strconv.Atoi(p.header.Get("Retry-After"))
	if p.status != http.StatusTooManyRequests || err != nil || secs <= 0 {
		tb.Fatalf("got %d with Retry-After %q, want 429 with a wait", p.status, p.header.Get("Retry-After"))
	}
	return secs
}

// Behind a proxy every customer comes from the proxy's address: one
// customer's wrong passwords must not make another customer wait.
func TestSignInThrottleTellsCustomersApartBehindAProxy(t *testing.T) {
	for _, header := range []string{config.XForwardedFor, config.XRealIP} {
		t.Run(header, func(t *testing.T) {
			app := newTestApp(t, behind(header))
			app.newAccounts(t, "ann@example.com", "ben@example.com", "cat@example.com")
			ann, ben := app.browser(t), app.browser(t)
			for range 3 {
				if p := ann.postFrom("198.51.100.1", "/signin", signInForm("ann@example.com", "not my password")); p.status != 422 {
					t.Fatalf("wrong password: %d, want 422", p.status)
				}
			}
			if p := ben.postFrom("198.51.100.2", "/signin", signInForm("ben@example.com", "correct horse battery")); p.status != 303 {
				t.Fatalf("another customer's correct sign-in: %d, want 303", p.status)
			}
			// Ann's own address is slowed down, whichever account she tries next.
			retryAfter(t, ann.postFrom("198.51.100.1", "/signin", signInForm("cat@example.com", "correct horse battery")))
		})
	}
}

// A client address comes from the header only when the peer is a trusted
// proxy: otherwise anyone could send a new address with each guess.
func TestForwardedAddressesAreIgnoredUnlessTrusted(t *testing.T) {
	for name, use := range map[string]func(*Deps){
		"no header configured": func(*Deps) {},
		"peer not a trusted proxy": func(d *Deps) {
			behindProxy(d)
			_, far, _ := net.ParseCIDR("10.0.0.0/8")
			d.Config.TrustedProxies = []*net.IPNet{far}
		},
	} {
		t.Run(name, func(t *testing.T) {
			app := newTestApp(t, use)
			b := app.browser(t)
			for i := range 3 {
				addr := "203.0.113." + strconv.Itoa(i+1)
				if p := b.postFrom(addr, "/signin", signInForm("victim"+strconv.Itoa(i)+"@example.com", "a guess")); p.status != 422 {
					t.Fatalf("guess %d: %d, want 422", i, p.status)
				}
			}
			retryAfter(t, b.postFrom("203.0.113.9", "/signin", signInForm("victim9@example.com", "a guess")))
		})
	}
}

// A stranger who fails over and over for one account, from ever new
// addresses, makes its owner wait no more than accountDelay.
func TestAStrangerCannotLockAnAccountOut(t *testing.T) {
	app := newTestApp(t, behindProxy)
	app.newAccounts(t, "ann@example.com")
	stranger, ann := app.browser(t), app.browser(t)
	for i := range 30 {
		addr := "203.0.113." + strconv.Itoa(i+1)
		if p := stranger.postFrom(addr, "/signin", signInForm("ann@example.com", "a guess")); p.status != 422 {
			t.Fatalf("guess %d: %d, want 422 (the account waits at most %s between tries)", i, p.status, accountDelay)
		}
		app.clock.Advance(accountDelay)
	}
	if p := stranger.postFrom("203.0.113.99", "/signin", signInForm("ann@example.com", "a guess")); p.status != 422 {
		t.Fatalf("the last guess: %d, want 422", p.status)
	}
	wait := retryAfter(t, ann.postFrom("198.51.100.1", "/signin", signInForm("ann@example.com", "correct horse battery")))
	if time.Duration(wait)*time.Second > accountDelay {
		t.Fatalf("the owner must wait %ds, want at most %s", wait, accountDelay)
	}
	app.clock.Advance(time.Duration(wait) * time.Second)
	if p := ann.postFrom("198.51.100.1", "/signin", signInForm("ann@example.com", "correct horse battery")); p.status != 303 {
		t.Fatalf("the owner after the wait: %d, want 303", p.status)
	}
}

// Signing in to one's own account does not wipe an address's failures, or
// guessing at others' accounts could go on at full speed between sign-ins.
func TestACorrectSignInKeepsTheAddressesFailures(t *testing.T) {
	app := newTestApp(t)
	app.newAccounts(t, "mal@example.com")
	b := app.browser(t)
	for i := range 3 {
		b.post("/signin", signInForm("victim"+strconv.Itoa(i)+"@example.com", "a guess"))
	}
	app.clock.Advance(time.Minute)
	if p := b.post("/signin", signInForm("mal@example.com", "correct horse battery")); p.status != 303 {
		t.Fatalf("own account: %d", p.status)
	}
	b.post("/signout", nil)
	b.post("/signin", signInForm("victim9@example.com", "a guess"))
	if wait := retryAfter(t, b.post("/signin", signInForm("victim10@example.com", "a guess"))); wait < 4 {
		t.Fatalf("after the sign-in the address waits %ds, want the doubled delay (4s)", wait)
	}
}

// Sign-up says when an email already has an account (there is no mail to
// tell it privately); each such answer counts against the client address as
// a failed sign-in does, so an address learns only a few.
func TestSignUpIsThrottledWhenItFindsAccounts(t *testing.T) {
	app := newTestApp(t)
	app.newAccounts(t, "a1@example.com", "a2@example.com", "a3@example.com")
	b := app.browser(t)
	signUp := func(email string) page {
		return b.post("/signup", url.Values{"email": {email}, "name": {"Probe"}, "password": {"correct horse battery"}})
	}
	for _, e := range []string{"a1@example.com", "a2@example.com", "a3@example.com"} {
		if p := signUp(e); p.status != 422 || !strings.Contains(p.body, "already exists") {
			t.Fatalf("sign-up as %s: %d, want 422 saying the account exists", e, p.status)
		}
	}
	p := signUp("new@example.com")
	retryAfter(t, p)
	doc := p.doc(t)
	if !strings.Contains(doc.Find("[role=alert]").Text(), "Too many sign-up attempts") {
		t.Fatalf("no message saying why: %q", doc.Find("[role=alert]").Text())
	}
	if doc.Find("#email").AttrOr("value", "") != "new@example.com" || doc.Find("#name").AttrOr("value", "") != "Probe" {
		t.Fatal("the input was not kept")
	}
	if _, err := app.Store.UserByEmail(context.Background(), "new@example.com"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("the refused sign-up made an account: %v", err)
	}
	app.clock.Advance(time.Minute)
	if p := signUp("new@example.com"); p.status != 303 {
		t.Fatalf("after the wait: %d, want 303", p.status)
	}
}

// Keys nobody tries again are dropped once they are stale, so made-up emails
// cannot grow the throttle without bound.
func TestThrottleDropsStaleKeys(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	database := dbtest.Open(t)
	th := newThrottle("account", db.NewStore(database, clk.Now), clk, fixedDelay)
	ctx := t.Context()
	th.fail(ctx, "first")
	for i := range 100 {
		th.fail(ctx, "made-up-"+strconv.Itoa(i)+"@example.com")
	}
	clk.Advance(failureWindow + time.Second)
	if err := th.fail(ctx, "fresh"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := database.Read.QueryRow(`SELECT count(*) FROM throttle`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d keys kept (%v), want only the fresh one", n, err)
	}
	var key string
	database.Read.QueryRow(`SELECT key FROM throttle`).Scan(&key)
	if strings.Contains(key, "fresh") {
		t.Errorf("the key is stored in the clear: %q", key)
	}
}

// An address's delay doubles per failure after the free ones, up to maxDelay;
// an account's stays accountDelay.
func TestThrottlePolicies(t *testing.T) {
	for n, want := range map[int]time.Duration{3: 2 * time.Second, 4: 4 * time.Second, 5: 8 * time.Second, 11: maxDelay, 50: maxDelay} {
		if got := growingDelay(n); got != want {
			t.Errorf("growingDelay(%d) = %s, want %s", n, got, want)
		}
	}
	clk := clock.NewManual(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	th := newThrottle("account", db.NewStore(dbtest.Open(t), clk.Now), clk, fixedDelay)
	ctx := t.Context()
	for i := range 40 {
		if i >= freeFailures {
			if got, err := th.wait(ctx, "k"); err != nil || got != accountDelay {
				t.Fatalf("after %d failures the account waits %s (%v), want %s", i, got, err, accountDelay)
			}
			clk.Advance(accountDelay)
		}
		if err := th.fail(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	}
	if err := th.succeed(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if got, err := th.wait(ctx, "k"); err != nil || got != 0 {
		t.Fatalf("after a success the account waits %s (%v)", got, err)
	}
}

// Two shop instances on one database count one address's failed sign-ins
// together: the fourth, on either, waits as it would on one instance, and
// so does the next try on the other; after the wait a sign-in works on
// both.
func TestSignInThrottleIsSharedByInstances(t *testing.T) {
	one, two, _, _ := twoInstances(t)
	one.newAccounts(t, "ann@example.com")
	onOne, onTwo := one.browser(t), two.browser(t)
	for i, b := range []*browser{onOne, onTwo, onOne} {
		if p := b.post("/signin", signInForm("victim"+strconv.Itoa(i)+"@example.com", "a guess")); p.status != 422 {
			t.Fatalf("guess %d: %d, want 422", i, p.status)
		}
	}
	wait := retryAfter(t, onTwo.post("/signin", signInForm("ann@example.com", "correct horse battery")))
	if time.Duration(wait)*time.Second != baseDelay {
		t.Errorf("after three failures across both the address waits %ds, want %s as on one instance", wait, baseDelay)
	}
	retryAfter(t, onOne.post("/signin", signInForm("ann@example.com", "correct horse battery")))
	one.clock.Advance(baseDelay)
	two.clock.Advance(baseDelay)
	if p := onTwo.post("/signin", signInForm("ann@example.com", "correct horse battery")); p.status != 303 {
		t.Fatalf("after the wait, on the second instance: %d, want 303", p.status)
	}
}
