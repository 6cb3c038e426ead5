package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"refshop/db"
)

func TestCatalogueAndProductPages(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	home := b.get("/")
	if home.status != 200 {
		t.Fatalf("home: %d", home.status)
	}
	n := home.doc(t).Find(".product-card").Length()
	if n < 8 || n > 12 {
		t.Fatalf("home lists %d products, want 8 to 12", n)
	}
	p := b.get("/products/hand-grinder")
	doc := p.doc(t)
	if p.status != 200 || doc.Find("h1").Text() != "Hand Grinder" || !strings.Contains(p.body, "€64.00") || !strings.Contains(p.body, "19% VAT") {
		t.Fatalf("product page: %d %q", p.status, doc.Find("h1").Text())
	}
	img := doc.Find(".product-page img").AttrOr("src", "")
	if img != "/static/img/products/hand-grinder.svg" {
		t.Fatalf("product image %q", img)
	}
	if res := b.get(img); res.status != 200 || !strings.HasPrefix(res.body, "<svg") {
		t.Fatalf("product image is not served: %d", res.status)
	}
}

func TestErrorPagesNeverShowInternals(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	for path, want := range map[string]int{"/products/nope": 404, "/no/such/page": 404} {
		p := b.get(path)
		if p.status != want || !strings.Contains(p.body, "Page not found") {
			t.Errorf("%s: %d", path, p.status)
		}
	}
	req, _ := http.NewRequest("DELETE", app.srv.URL+"/cart", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if p := b.do(req); p.status != 405 || !strings.Contains(p.body, "Not allowed here") {
		t.Errorf("DELETE /cart: %d", p.status)
	}
	big := url.Values{"email": {strings.Repeat("a", MaxBodyBytes)}}
	if p := b.post("/signin", big); p.status != 413 || !strings.Contains(p.body, "Too much data") {
		t.Errorf("oversized body: %d", p.status)
	}
}

func TestInternalErrorsAreLoggedNotShown(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"1"}})
	app.DB.Read.Close() // every read now fails with an internal error
	p := b.get("/cart")
	if p.status != 500 {
		t.Fatalf("status %d, want 500", p.status)
	}
	if strings.Contains(p.body, "sql") || strings.Contains(p.body, "closed") {
		t.Fatalf("the page shows internal error text: %s", p.body)
	}
	ref := p.doc(t).Find("[data-testid=support-reference]").Text()
	if ref == "" || !strings.Contains(app.logText(), ref) {
		t.Fatalf("the support reference %q is not the logged request id", ref)
	}
	if h := b.get("/healthz"); h.status != 503 {
		t.Fatalf("healthz with a dead database: %d", h.status)
	}
}

func TestCartAddChangeRemoveAndTotals(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	if p := b.post("/cart/items", url.Values{"product_id": {"stoneware-mug"}, "quantity": {"2"}}); p.status != 303 || p.location != "/cart" {
		t.Fatalf("add: %d %q", p.status, p.location)
	}
	b.post("/cart/items", url.Values{"product_id": {"dark-chocolate"}, "quantity": {"1"}})
	doc := b.get("/cart").doc(t)
	if got := doc.Find("[data-testid=total]").Text(); got != "€39.99" {
		t.Fatalf("total %q", got)
	}
	// 3600 at 19% holds 575; 399 at 7% holds 26.
	if got := doc.Find("[data-testid=tax]").Text(); got != "€6.01" {
		t.Fatalf("tax %q", got)
	}
	b.post("/cart/items/stoneware-mug", url.Values{"quantity": {"1"}})
	b.post("/cart/items/dark-chocolate/remove", nil)
	doc = b.get("/cart").doc(t)
	if got := doc.Find("[data-testid=total]").Text(); got != "€18.00" {
		t.Fatalf("total after changes %q", got)
	}
	if p := b.post("/cart/items", url.Values{"product_id": {"unicorn"}, "quantity": {"1"}}); p.status != 404 {
		t.Fatalf("unknown product: %d", p.status)
	}
}

func TestBadQuantitiesAre422WithInputKept(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	for _, q := range []string{"0", "100", "two", ""} {
		p := b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {q}})
		doc := p.doc(t)
		if p.status != 422 || doc.Find(".field-error").Length() != 1 || doc.Find("#quantity").AttrOr("value", "?") != q {
			t.Errorf("quantity %q: %d, value %q", q, p.status, doc.Find("#quantity").AttrOr("value", "?"))
		}
	}
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"2"}})
	p := b.post("/cart/items/sencha", url.Values{"quantity": {"-1"}})
	if p.status != 422 || p.doc(t).Find("#qty-sencha").AttrOr("value", "") != "-1" {
		t.Fatalf("cart update with -1: %d", p.status)
	}
	// Nothing was lost.
	if v := b.get("/cart").doc(t).Find("#qty-sencha").AttrOr("value", ""); v != "2" {
		t.Fatalf("quantity after refused update = %q, want 2", v)
	}
}

func TestSignUpValidationKeepsInput(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	p := b.post("/signup", url.Values{"email": {"nope"}, "name": {"Ada"}, "password": {"short"}})
	doc := p.doc(t)
	if p.status != 422 {
		t.Fatalf("status %d", p.status)
	}
	if doc.Find("#email").AttrOr("value", "") != "nope" || doc.Find("#name").AttrOr("value", "") != "Ada" {
		t.Fatal("input not kept")
	}
	if doc.Find("#password").AttrOr("value", "") != "" {
		t.Fatal("the password was echoed back")
	}
	if doc.Find("#email-error").Length() != 1 || doc.Find("#password-error").Length() != 1 {
		t.Fatal("field messages missing")
	}
	b.signUp("ada@example.com")
	other := app.browser(t)
	p = other.post("/signup", url.Values{"email": {"ADA@example.com"}, "password": {"another long one"}})
	if p.status != 422 || !strings.Contains(p.body, "already exists") {
		t.Fatalf("duplicate sign-up: %d", p.status)
	}
}

func TestSignInRenewsTheSessionAndKeepsTheCart(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	b.signUp("tess@example.com")
	b.post("/signout", nil)

	b.post("/cart/items", url.Values{"product_id": {"carafe"}, "quantity": {"1"}})
	before := b.sessionCookie()
	p := b.post("/signin", url.Values{"email": {"tess@example.com"}, "password": {"correct horse battery"}, "next": {"/checkout"}})
	if p.status != 303 || p.location != "/checkout" {
		t.Fatalf("sign in: %d %q", p.status, p.location)
	}
	if after := b.sessionCookie(); after == "" || after == before {
		t.Fatal("the session token was not renewed at sign-in")
	}
	if b.get("/cart").doc(t).Find("tr[data-product=carafe]").Length() != 1 {
		t.Fatal("the guest cart was lost at sign-in")
	}
	if p := b.get("/account"); p.status != 200 || !strings.Contains(p.body, "tess@example.com") {
		t.Fatalf("account: %d", p.status)
	}
	// Sign-out renews the token too and forgets the user.
	signedIn := b.sessionCookie()
	b.post("/signout", nil)
	if b.sessionCookie() == signedIn {
		t.Fatal("the session token was not renewed at sign-out")
	}
	if p := b.get("/account"); p.status != 303 || !strings.HasPrefix(p.location, "/signin") {
		t.Fatalf("account after sign-out: %d %q", p.status, p.location)
	}
}

func TestCartSurvivesARestart(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	b.post("/cart/items", url.Values{"product_id": {"sencha"}, "quantity": {"3"}})
	// A new App on the same database, as after a restart; the browser keeps its cookie.
	restarted := newTestAppOn(t, app.DB)
	b.app = restarted
	jarURL, _ := url.Parse(app.srv.URL)
	newURL, _ := url.Parse(restarted.srv.URL)
	b.c.Jar.SetCookies(newURL, b.c.Jar.Cookies(jarURL))
	if v := b.get("/cart").doc(t).Find("#qty-sencha").AttrOr("value", ""); v != "3" {
		t.Fatalf("after restart the cart holds %q sencha, want 3", v)
	}
}

func TestWrongCredentialsOneMessageAndSlowDown(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	b.signUp("known@example.com")
	b.post("/signout", nil)

	msg := func(p page) string { return strings.TrimSpace(p.doc(t).Find("[role=alert]").Text()) }
	known := b.post("/signin", url.Values{"email": {"known@example.com"}, "password": {"wrong password"}})
	unknown := b.post("/signin", url.Values{"email": {"unknown@example.com"}, "password": {"wrong password"}})
	if known.status != 422 || unknown.status != 422 || msg(known) != msg(unknown) || msg(known) == "" {
		t.Fatalf("known %d %q, unknown %d %q", known.status, msg(known), unknown.status, msg(unknown))
	}

	// The third failure for one email starts the slow-down.
	b.post("/signin", url.Values{"email": {"known@example.com"}, "password": {"wrong again"}})
	b.post("/signin", url.Values{"email": {"known@example.com"}, "password": {"wrong again"}})
	p := b.post("/signin", url.Values{"email": {"known@example.com"}, "password": {"correct horse battery"}})
	if p.status != 429 || p.header.Get("Retry-After") == "" || !strings.Contains(msg(p), "Too many sign-in attempts") {
		t.Fatalf("after failures: %d %q", p.status, msg(p))
	}
	app.clock.Advance(time.Minute)
	if p := b.post("/signin", url.Values{"email": {"known@example.com"}, "password": {"correct horse battery"}}); p.status != 303 {
		t.Fatalf("after waiting: %d %q", p.status, msg(p))
	}
}

func TestUnsafeRequestsFromOtherOriginsAreRefused(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	req, _ := http.NewRequest("POST", app.srv.URL+"/cart/items", strings.NewReader("product_id=sencha&quantity=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if p := b.do(req); p.status != 403 {
		t.Fatalf("cross-site POST: %d", p.status)
	}
	if n := b.get("/cart").doc(t).Find("tbody tr").Length(); n != 0 {
		t.Fatal("the refused request changed the cart")
	}
}

func TestSecurityHeadersAndNonce(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	p1, p2 := b.get("/"), b.get("/")
	csp1, csp2 := p1.header.Get("Content-Security-Policy"), p2.header.Get("Content-Security-Policy")
	if !strings.Contains(csp1, "'nonce-") || csp1 == csp2 {
		t.Fatalf("CSP has no per-request nonce: %q / %q", csp1, csp2)
	}
	for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "http://localhost:8081"} {
		if !strings.Contains(csp1, want) {
			t.Errorf("CSP lacks %q", want)
		}
	}
	if strings.Contains(csp1, "unsafe-inline") {
		t.Error("CSP allows unsafe-inline")
	}
	if p1.header.Get("X-Content-Type-Options") != "nosniff" || p1.header.Get("Referrer-Policy") == "" || p1.header.Get("X-Request-Id") == "" {
		t.Errorf("headers: %v", p1.header)
	}
}

func TestOrdersAreOnlyShownToTheirOwner(t *testing.T) {
	app := newTestApp(t)
	alice, bob := app.browser(t), app.browser(t)
	alice.signUp("alice@example.com")
	bob.signUp("bob@example.com")
	u, _ := app.Store.UserByEmail(context.Background(), "alice@example.com")
	o, err := app.Store.CreateOrder(context.Background(), db.NewOrder{UserID: u.ID, Provider: db.ProviderVipps, Market: "de", Currency: "EUR",
		Lines: []db.OrderLine{{ProductID: "sencha", Name: "Sencha Green Tea", Quantity: 1, UnitPrice: 850, TaxRate: 700, TotalAmount: 850, TotalTaxAmount: 56}}})
	if err != nil {
		t.Fatal(err)
	}
	if p := alice.get("/orders/" + o.PublicID); p.status != 200 || !strings.Contains(p.body, "Sencha Green Tea") {
		t.Fatalf("owner: %d", p.status)
	}
	if p := bob.get("/orders/" + o.PublicID); p.status != 404 {
		t.Fatalf("another user: %d, want 404", p.status)
	}
	if p := app.browser(t).get("/orders/" + o.PublicID); p.status != 404 {
		t.Fatalf("a guest: %d, want 404", p.status)
	}
	acct := alice.get("/account")
	if acct.doc(t).Find("a[href='/orders/"+o.PublicID+"']").Length() != 1 {
		t.Fatal("the account page does not list the order")
	}
}

func TestCheckout(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	if p := b.get("/checkout"); p.status != 303 || p.location != "/cart" {
		t.Fatalf("empty checkout: %d %q", p.status, p.location)
	}
	b.post("/cart/items", url.Values{"product_id": {"slow-mornings"}, "quantity": {"2"}})
	p := b.get("/checkout")
	doc := p.doc(t)
	if p.status != 200 || doc.Find("[data-testid=total]").Text() != "€32.00" || !strings.Contains(p.body, "Slow Mornings") {
		t.Fatalf("checkout: %d", p.status)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/checkout": "/checkout", "/orders/abc?x=1": "/orders/abc?x=1", "": "", "https://evil.example": "",
		"//evil.example": "", "/\\evil": "", "checkout": "", "/\t/evil.example": "", "/\n/evil.example": "",
		"/%09/evil.example": "/%09/evil.example", // percent-encoded stays a path: browsers do not decode it into the authority
		"/ /evil.example":   "", "/\x00x": "",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
