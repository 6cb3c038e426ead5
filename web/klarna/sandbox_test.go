package klarna_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"refshop/web/catalog"
	"refshop/web/clock"
	"refshop/web/klarna"
	"refshop/web/market"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/sandboxtest"
	"refshop/web/secret"
)

// env is the client against a running sandbox.
type env struct {
	t   *testing.T
	sb  *sandboxtest.Server
	url string
	c   *klarna.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sb := sandboxtest.Start(t, control.Config{ShopBaseURL: "http://shop.test",
		Klarna: control.KlarnaConfig{Enabled: true, Username: "PK_test", Password: "sandbox-pw"}},
		clock.NewManual(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)))
	c := klarna.New(klarna.Config{BaseURL: sb.URL + "/klarna/api", Username: "PK_test", Password: secret.New("sandbox-pw"),
		HTTP: sb.Server.Client(), Sleep: func(context.Context, time.Duration) error { return nil }})
	return &env{t: t, sb: sb, url: sb.URL, c: c}
}

func (e *env) control(path string, body any) map[string]any {
	e.t.Helper()
	return e.sb.Control(e.t, path, body)
}

// approve does what the widget does when the customer approves.
func (e *env) approve(sessionID string, link bool) string {
	e.t.Helper()
	return e.control("/control/klarna/sessions/"+sessionID+"/authorize", map[string]any{"link_account": link})["authorization_token"].(string)
}

// cart is the products at German prices (EUR, VAT included).
func cart(ids map[string]int64) []klarna.Item {
	de, _ := market.Get("de")
	var items []klarna.Item
	for _, p := range catalog.All() {
		if q, ok := ids[p.ID]; ok {
			price, _ := p.Price(de)
			items = append(items, klarna.Item{Reference: p.ID, Name: p.Name, Quantity: q, UnitPrice: price.Minor, TaxRate: de.TaxRate(p.TaxClass)})
		}
	}
	return items
}

func sessionFor(items []klarna.Item, token secret.Secret) klarna.SessionRequest {
	lines, amount, tax := klarna.Lines(items)
	req := klarna.SessionRequest{Intent: klarna.IntentBuyAndLink, Purchase: klarna.Purchase{
		PurchaseCountry: "DE", PurchaseCurrency: "EUR", Locale: "de-DE", OrderAmount: amount, OrderTaxAmount: tax, OrderLines: lines,
		MerchantURLs: &klarna.MerchantURLs{Confirmation: "http://shop.test/orders/x"}}}
	if !token.IsZero() {
		req.Customer = &klarna.Customer{CustomerToken: token}
	}
	return req
}

// orderFor is the order for an approved session s, without merchant URLs.
func orderFor(s klarna.SessionRequest) klarna.OrderRequest {
	p := s.Purchase
	p.MerchantURLs = nil
	return klarna.OrderRequest{Purchase: p}
}

var tokenForm = regexp.MustCompile(`^krn:partner:eu1:playground:identity:customer-token:[A-Za-z0-9]+$`)

// buy runs one widget purchase and returns Klarna's order answer.
func (e *env) buy(attempt string, items []klarna.Item, token secret.Secret, link bool) klarna.Order {
	e.t.Helper()
	ctx := context.Background()
	req := sessionFor(items, token)
	s, err := e.c.CreateSession(ctx, req, klarna.IdempotencyKey(attempt, "create_session"))
	if err != nil {
		e.t.Fatal(err)
	}
	auth := e.approve(s.SessionID, link)
	o, err := e.c.CreateOrder(ctx, auth, orderFor(req), klarna.IdempotencyKey(attempt, "create_order"))
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

// Carts with several tax rates, quantities and prices whose tax does not
// divide evenly: every line is within Klarna's rule and the sandbox, which
// checks the rule on its own, takes the session and the order.
func TestLinesOnAwkwardCartsPassKlarnasArithmetic(t *testing.T) {
	e := newEnv(t)
	carts := [][]klarna.Item{
		cart(map[string]int64{"morning-blend": 7, "stoneware-mug": 3, "dark-chocolate": 11}),
		cart(map[string]int64{"almond-biscuits": 99, "hand-grinder": 1, "sencha": 13, "tea-towel": 2}),
		{{Name: "Penny sweet", Quantity: 3, UnitPrice: 1, TaxRate: 1900}, {Name: "Odd", Quantity: 17, UnitPrice: 999, TaxRate: 2500},
			{Name: "Reduced", Quantity: 1, UnitPrice: 333, TaxRate: 1234}, {Name: "Untaxed", Quantity: 2, UnitPrice: 505, TaxRate: 0}},
	}
	for i, items := range carts {
		lines, amount, tax := klarna.Lines(items)
		var sa, st int64
		for _, l := range lines {
			if l.TotalAmount != l.Quantity*l.UnitPrice {
				t.Errorf("cart %d %s: total %d", i, l.Name, l.TotalAmount)
			}
			den := int64(10000 + l.Rate())
			if d := l.Tax()*den - l.TotalAmount*int64(l.Rate()); d > den || d < -den {
				t.Errorf("cart %d %s: tax %d outside Klarna's ±1 of %d×%d/%d", i, l.Name, l.Tax(), l.TotalAmount, l.Rate(), den)
			}
			sa += l.TotalAmount
			st += l.Tax()
		}
		if amount != sa || tax != st {
			t.Errorf("cart %d: order amounts %d/%d, sums %d/%d", i, amount, tax, sa, st)
		}
		o := e.buy("arith-"+string(rune('a'+i)), items, secret.Secret{}, false)
		if o.OrderID == "" {
			t.Errorf("cart %d: no order", i)
		}
	}
}

func TestFirstPurchaseLinksAndTheTokenRecognisesTheCustomerNextTime(t *testing.T) {
	e := newEnv(t)
	items := cart(map[string]int64{"sencha": 2})
	first := e.buy("first", items, secret.Secret{}, true)
	tok := first.CustomerToken
	if !tokenForm.MatchString(tok.Reveal()) {
		t.Fatalf("customer_token %q is not krn:partner:<region>:<env>:identity:customer-token:<id>", tok.Reveal())
	}
	second := e.buy("second", items, tok, true)
	if second.CustomerToken.Reveal() != tok.Reveal() {
		t.Errorf("without rotation the same token comes back, got a different one")
	}
}

func TestRotationReturnsANewTokenAndRetiresTheOld(t *testing.T) {
	e := newEnv(t)
	items := cart(map[string]int64{"carafe": 1})
	old := e.buy("r1", items, secret.Secret{}, true).CustomerToken
	e.control("/control/settings", map[string]any{"klarna_rotate_customer_tokens": true})
	rotated := e.buy("r2", items, old, true).CustomerToken
	if rotated.IsZero() || rotated.Reveal() == old.Reveal() || !tokenForm.MatchString(rotated.Reveal()) {
		t.Fatalf("rotation gave %q", rotated.Reveal())
	}
	// The old token no longer recognises the customer: the widget falls
	// back to login, and linking again issues a new token.
	again := e.buy("r3", items, old, true).CustomerToken
	if again.IsZero() || again.Reveal() == old.Reveal() || again.Reveal() == rotated.Reveal() {
		t.Errorf("a revoked token must lead to a new link, got %q", again.Reveal())
	}
}

func TestOptOutReturnsNoToken(t *testing.T) {
	e := newEnv(t)
	o := e.buy("optout", cart(map[string]int64{"sencha": 1}), secret.Secret{}, false)
	if !o.CustomerToken.IsZero() {
		t.Errorf("opted out but got a token")
	}
}

// dropFirstAnswer delivers the first request but loses its answer, as a
// timeout after Klarna did the work would.
type dropFirstAnswer struct {
	n    atomic.Int32
	next http.RoundTripper
}

func (d *dropFirstAnswer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(r)
	if d.n.Add(1) == 1 && err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return nil, errors.New("read: connection reset by peer")
	}
	return resp, err
}

// The client retries with the same key; the sandbox replays the first
// answer, so there is one order.
func TestIdempotentRetryMakesOneOrder(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	req := sessionFor(cart(map[string]int64{"pour-over": 2}), secret.Secret{})
	s, err := e.c.CreateSession(ctx, req, klarna.IdempotencyKey("idem", "create_session"))
	if err != nil {
		t.Fatal(err)
	}
	auth := e.approve(s.SessionID, true)
	lossy := klarna.New(klarna.Config{BaseURL: e.url + "/klarna/api", Username: "PK_test", Password: secret.New("sandbox-pw"),
		HTTP: &http.Client{Transport: &dropFirstAnswer{next: http.DefaultTransport}}, Sleep: func(context.Context, time.Duration) error { return nil }})
	key := klarna.IdempotencyKey("idem", "create_order")
	o1, err := lossy.CreateOrder(ctx, auth, orderFor(req), key)
	if err != nil {
		t.Fatalf("retry failed: %v", err)
	}
	if n := e.sb.State.Calls("klarna.create_order"); n != 2 {
		t.Errorf("create_order calls = %d, want 2 (the lost one and the retry)", n)
	}
	o2, err := e.c.CreateOrder(ctx, auth, orderFor(req), key)
	if err != nil || o2.OrderID != o1.OrderID || o2.CustomerToken.Reveal() != o1.CustomerToken.Reveal() {
		t.Errorf("a later retry with the key made another order: %q vs %q (%v)", o2.OrderID, o1.OrderID, err)
	}
	// Without the key the used authorization makes no second order.
	_, err = e.c.CreateOrder(ctx, auth, orderFor(req), "another-key")
	if klarna.StatusOf(err) != 404 {
		t.Errorf("a used authorization ordered again: %v", err)
	}
}

// When create order ignores the key (klarna_create_order_idempotent off, as
// real Klarna may) and the first answer is lost, the retry meets the used
// authorization: a 404 after a try that went unanswered, and the session says
// complete. A plain 404 (an expired approval) is not flagged.
func TestLostAnswerThenNotFoundIsFlagged(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.control("/control/settings", map[string]any{"klarna_create_order_idempotent": false})
	req := sessionFor(cart(map[string]int64{"pour-over": 1}), secret.Secret{})
	s, err := e.c.CreateSession(ctx, req, klarna.IdempotencyKey("lost", "create_session"))
	if err != nil {
		t.Fatal(err)
	}
	auth := e.approve(s.SessionID, false)
	e.control("/control/faults", map[string]any{"operation": "klarna.create_order", "lose_answer": true})
	_, err = e.c.CreateOrder(ctx, auth, orderFor(req), klarna.IdempotencyKey("lost", "create_order"))
	if klarna.StatusOf(err) != 404 || klarna.AnsweredEveryTry(err) {
		t.Fatalf("err = %v, want a 404 after a try that went unanswered", err)
	}
	if n := e.sb.State.Calls("klarna.create_order"); n != 2 {
		t.Errorf("create_order calls = %d, want 2 (the lost one and the retry)", n)
	}
	if st, err := e.c.ReadSession(ctx, s.SessionID); err != nil || st.Status != klarna.SessionComplete || st.AuthorizationToken != auth {
		t.Errorf("session %s, authorization read back %v (%v): the lost try placed the order with it",
			st.Status, st.AuthorizationToken == auth, err)
	}

	s2, _ := e.c.CreateSession(ctx, req, klarna.IdempotencyKey("lost2", "create_session"))
	auth2 := e.approve(s2.SessionID, false)
	e.control("/control/clock", map[string]any{"advance": "61m"})
	_, err = e.c.CreateOrder(ctx, auth2, orderFor(req), klarna.IdempotencyKey("lost2", "create_order"))
	if klarna.StatusOf(err) != 404 || !klarna.AnsweredEveryTry(err) {
		t.Errorf("an expired approval: %v, answered every try %v", err, klarna.AnsweredEveryTry(err))
	}
}

// The cart changed after approval: 409, then the session is updated, the
// customer approves again and the order goes through. The stale
// authorization is released.
func TestCartChangedThenReapprove(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	req := sessionFor(cart(map[string]int64{"sencha": 1}), secret.Secret{})
	s, err := e.c.CreateSession(ctx, req, klarna.IdempotencyKey("cc", "create_session"))
	if err != nil {
		t.Fatal(err)
	}
	auth := e.approve(s.SessionID, false)
	changed := sessionFor(cart(map[string]int64{"sencha": 2}), secret.Secret{})
	_, err = e.c.CreateOrder(ctx, auth, orderFor(changed), klarna.IdempotencyKey("cc", "create_order"))
	if !klarna.CartChanged(err) || klarna.CorrelationID(err) == "" {
		t.Fatalf("err = %v", err)
	}
	if err := e.c.CancelAuthorization(ctx, auth); err != nil {
		t.Fatal(err)
	}
	if err := e.c.UpdateSession(ctx, s.SessionID, changed, klarna.IdempotencyKey("cc2", "update_session")); err != nil {
		t.Fatal(err)
	}
	st, err := e.c.ReadSession(ctx, s.SessionID)
	if err != nil || st.OrderAmount != changed.OrderAmount || st.Status != "incomplete" {
		t.Fatalf("session after update: %+v %v", st, err)
	}
	auth2 := e.approve(s.SessionID, false)
	if _, err := e.c.CreateOrder(ctx, auth2, orderFor(changed), klarna.IdempotencyKey("cc2", "create_order")); err != nil {
		t.Fatal(err)
	}
	st, _ = e.c.ReadSession(ctx, s.SessionID)
	if st.Status != "complete" {
		t.Errorf("status %q after the order", st.Status)
	}
}

func TestAuthorizationExpiresAfter60Minutes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	req := sessionFor(cart(map[string]int64{"sencha": 1}), secret.Secret{})
	s, _ := e.c.CreateSession(ctx, req, klarna.IdempotencyKey("exp", "create_session"))
	auth := e.approve(s.SessionID, false)
	e.control("/control/clock", map[string]any{"advance": "60m"})
	_, err := e.c.CreateOrder(ctx, auth, orderFor(req), klarna.IdempotencyKey("exp", "create_order"))
	if !klarna.NeedsReapproval(err) || klarna.CartChanged(err) {
		t.Errorf("err = %v", err)
	}
}

func TestSessionReadShowsExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s, err := e.c.CreateSession(ctx, sessionFor(cart(map[string]int64{"sencha": 1}), secret.Secret{}), "k-read")
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.c.ReadSession(ctx, s.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if want := e.sb.State.Now().Add(48 * time.Hour); st.ExpiresAt.Sub(want).Abs() > time.Second || st.Intent != "buy_and_link" {
		t.Errorf("read %+v", st)
	}
}

// Klarna has two kinds of customer token: the account-linking one goes in a
// session's customer.customer_token, and the Customer Token API knows only
// the token_id of a tokenize session. An account-linking token sent there
// is not found, for a read, an order and a cancel alike.
func TestTheCustomerTokenAPIDoesNotTakeAnAccountLinkingToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	items := cart(map[string]int64{"hand-grinder": 1, "sencha": 3})
	tok := e.buy("ct", items, secret.Secret{}, true).CustomerToken
	lines, amount, tax := klarna.Lines(items)
	treq := klarna.TokenOrderRequest{PurchaseCurrency: "EUR", OrderAmount: amount, OrderTaxAmount: tax, OrderLines: lines,
		MerchantURLs: &klarna.TokenMerchantURL{Confirmation: "http://shop.test/orders/y"}}
	if _, err := e.c.CustomerTokenOrder(ctx, tok, treq, klarna.IdempotencyKey("again-1", "customer_token_order")); klarna.StatusOf(err) != 404 {
		t.Errorf("token order with an account-linking token: %v, want 404", err)
	}
	if _, err := e.c.ReadCustomerToken(ctx, tok); klarna.StatusOf(err) != 404 {
		t.Errorf("read: %v, want 404", err)
	}
	if err := e.c.CancelCustomerToken(ctx, tok, klarna.IdempotencyKey("unlink", "customer_token_status")); klarna.StatusOf(err) != 404 {
		t.Errorf("cancel: %v, want 404", err)
	}
	// The link still recognises the customer in a session.
	if again := e.buy("ct2", items, tok, true).CustomerToken; again.Reveal() != tok.Reveal() {
		t.Errorf("the next session answered with %q, want the link's token again", again.Reveal())
	}
}

func TestWrongCredentialsAre401(t *testing.T) {
	e := newEnv(t)
	bad := klarna.New(klarna.Config{BaseURL: e.url + "/klarna/api", Username: "PK_test", Password: secret.New("not-the-password-XYZ"),
		Sleep: func(context.Context, time.Duration) error { return nil }})
	_, err := bad.CreateSession(context.Background(), sessionFor(cart(map[string]int64{"sencha": 1}), secret.Secret{}), "k")
	if klarna.StatusOf(err) != 401 || klarna.CorrelationID(err) == "" {
		t.Errorf("err = %v", err)
	}
	if strings.Contains(err.Error(), "XYZ") {
		t.Error("the error shows the password")
	}
}
