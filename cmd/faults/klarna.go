package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// klarnaFlow is Klarna Payments with account linking: the checkout makes a
// payment attempt and its Klarna session, the customer approves in Klarna's
// widget (here the sandbox's control API does what the widget does), and the
// shop places the order server to server.
type klarnaFlow struct{}

func (klarnaFlow) name() string   { return "klarna" }
func (klarnaFlow) usesCart() bool { return true }

const (
	klarnaCheckoutStep = iota
	klarnaApproveStep
	klarnaAuthorizeStep
)

func (klarnaFlow) operations() []operation {
	return []operation{
		{name: "klarna.create_session", step: klarnaCheckoutStep},
		{name: "klarna.create_order", step: klarnaAuthorizeStep},
		// Klarna's authorization callback when the customer approves: the
		// shop places the order without the browser.
		{name: "klarna.authorization_callback", step: klarnaApproveStep, event: true},
	}
}

func (klarnaFlow) steps() []step { return klarnaSteps(true) }

// klarnaSteps is a purchase with Klarna's widget; link is the widget's "link
// my Klarna account" box.
func klarnaSteps(link bool) []step {
	return []step{
		klarnaCheckoutStep: {name: "checkout", do: klarnaCheckout},
		klarnaApproveStep: {name: "approve in Klarna", do: func(ctx context.Context, l *lane, c *customer) (page, bool, error) {
			return klarnaApprove(ctx, l, c, link)
		}},
		klarnaAuthorizeStep: {name: "place the order", do: klarnaPlace},
	}
}

func (klarnaFlow) newCustomer(ctx context.Context, l *lane) (*customer, error) {
	c := newCustomer(newBrowser(l.shop.ShopURL), l.email("klarna"))
	if err := c.b.signUp(ctx, c.email); err != nil {
		return nil, err
	}
	return c, c.b.addToCart(ctx, "stoneware-mug")
}

// klarnaCheckout chooses Klarna at checkout and opens the payment page,
// reading the session id from the client token, as Klarna's SDK does.
func klarnaCheckout(ctx context.Context, l *lane, c *customer) (page, bool, error) {
	c.begin()
	return klarnaPayPage(ctx, c, c.b.post(ctx, "/checkout/klarna", nil))
}

// klarnaPayPage follows the shop's answer to a Klarna form (checkout, or
// "Buy again") to the attempt's payment page and reads the session id from
// its client token, as Klarna's SDK does.
func klarnaPayPage(ctx context.Context, c *customer, p page) (page, bool, error) {
	id, ok := strings.CutPrefix(pathOf(p.location), "/checkout/klarna/")
	if !p.redirect() || !ok {
		joinShownOrder(c, p)
		return p, false, nil
	}
	c.join(id)
	p = c.b.get(ctx, p.location)
	if p.err != nil || p.status != http.StatusOK {
		return p, false, nil
	}
	if s := sessionOf(p.doc().Find("#klarna-checkout").AttrOr("data-client-token", "")); s != "" {
		c.cur.session = s
	}
	return p, c.cur.session != "", nil
}

// sessionOf reads the session id from a Klarna client token (a JWT).
func sessionOf(clientToken string) string {
	parts := strings.Split(clientToken, ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		SessionID string `json:"session_id"`
	}
	_ = json.Unmarshal(raw, &claims)
	return claims.SessionID
}

// klarnaApprove is the customer approving in Klarna's widget.
func klarnaApprove(ctx context.Context, l *lane, c *customer, link bool) (page, bool, error) {
	where := l.sb.url + "/control/klarna/sessions/" + c.cur.session + "/authorize"
	tok, err := l.sb.klarnaAuthorize(ctx, c.cur.session, link)
	if err != nil {
		// The widget refused (an unknown or completed session).
		return page{method: http.MethodPost, url: where, status: errStatus(err), body: err.Error()}, false, nil
	}
	c.cur.authorized, c.cur.authorization = true, tok
	return page{method: http.MethodPost, url: where, status: http.StatusOK}, true, nil
}

// klarnaPlace is the payment page posting the authorization token; the shop
// places the order and shows it.
func klarnaPlace(ctx context.Context, l *lane, c *customer) (page, bool, error) {
	a := c.cur
	p := c.b.follow(ctx, c.b.post(ctx, "/checkout/klarna/"+a.order+"/authorize", url.Values{"authorization_token": {a.authorization}}))
	if p.err != nil || p.status != http.StatusOK || pathOf(p.url) != "/orders/"+a.order {
		return p, false, nil
	}
	d := p.doc()
	a.klarnaOrder = strings.TrimSpace(d.Find(`[data-testid="provider-reference"]`).Text())
	return p, statusOf(d.Find(`[data-testid="order-status"]`)) == "authorized", nil
}

// probe reads the attempt's session: complete means Klarna placed an order
// from it. Orders come only from sessions the customer approved, and this
// suite's customer approves only through the control API, so every Klarna
// order of the scenario is one of these.
func (klarnaFlow) probe(ctx context.Context, pr *prober, c *customer, o shopOrder) (holding, error) {
	return klarnaSessionHolding(ctx, pr, c.attemptFor(o.id))
}

func klarnaSessionHolding(ctx context.Context, pr *prober, a *attempt) (holding, error) {
	if a.session == "" {
		return holding{}, nil
	}
	st, err := pr.l.sb.klarnaSessionStatus(ctx, a.session)
	switch {
	case err != nil || st == "":
		return holding{}, err
	case st == "complete":
		return holding{exists: true, money: true, what: "a Klarna order"}, nil
	}
	if a.authorized {
		// The customer approved: the shop holds an authorization it may
		// still place an order with (for 60 minutes).
		return holding{exists: true, live: true, what: "an open session the customer approved"}, nil
	}
	return holding{exists: true, what: "an open session"}, nil
}

func (klarnaFlow) count(_ context.Context, _ *lane, _ *customer, s snapshot) (objects, error) {
	return klarnaOrders(s), nil
}

// klarnaOrders counts the Klarna orders of the scenario's orders, naming
// what the shop made of each.
func klarnaOrders(s snapshot) objects {
	var shop []string
	for _, o := range s.charged() {
		shop = append(shop, "shop "+o.status)
	}
	return objects{summary: plural(len(shop), "order") + list(shop), counts: map[string]int{"order": len(shop)}}
}

// klarnaBuyAgainFlow is "Buy again with Klarna": a paid Klarna order bought
// again with the customer present. The shop makes an attempt outside the
// cart whose Klarna session carries the linked customer_token, the widget
// opens ready to buy, the customer approves, and the shop places the order.
type klarnaBuyAgainFlow struct{}

func (klarnaBuyAgainFlow) name() string   { return "klarna buy again" }
func (klarnaBuyAgainFlow) usesCart() bool { return false }

func (klarnaBuyAgainFlow) operations() []operation {
	return []operation{
		{name: "klarna.create_session", step: klarnaCheckoutStep},
		{name: "klarna.create_order", step: klarnaAuthorizeStep},
	}
}

func (f klarnaBuyAgainFlow) steps() []step {
	st := klarnaSteps(true)
	st[klarnaCheckoutStep] = step{name: "buy again", do: f.buyAgain}
	return st
}

// newCustomer makes a customer who paid with Klarna and linked their Klarna
// account: the order to buy again.
func (klarnaBuyAgainFlow) newCustomer(ctx context.Context, l *lane) (*customer, error) {
	c := newCustomer(newBrowser(l.shop.ShopURL), l.email("buyagain"))
	if err := c.b.signUp(ctx, c.email); err != nil {
		return nil, err
	}
	if err := c.b.addToCart(ctx, "sencha"); err != nil {
		return nil, err
	}
	for _, st := range klarnaSteps(true) {
		p, ok, err := st.do(ctx, l, c)
		if err != nil || !ok {
			return nil, fmt.Errorf("the first purchase, %s: %v %s", st.name, err, describe(p))
		}
	}
	c.source = c.cur.order
	c.before[c.source] = true
	c.attempts, c.cur = nil, nil
	return c, nil
}

// buyAgain presses "Buy again with Klarna" on the paid order's page (its
// form names the attempt, so pressing it again joins the same one) and
// opens the attempt's payment page.
func (klarnaBuyAgainFlow) buyAgain(ctx context.Context, l *lane, c *customer) (page, bool, error) {
	c.begin()
	p := c.b.get(ctx, "/orders/"+c.source)
	if p.err != nil || p.status != http.StatusOK {
		return p, false, nil
	}
	form := p.doc().Find(`form[action$="/klarna/buy-again"]`)
	key := form.Find(`input[name="attempt"]`).AttrOr("value", "")
	if key == "" {
		return p, false, nil
	}
	c.cur.key = key
	return klarnaPayPage(ctx, c, c.b.post(ctx, form.AttrOr("action", ""), url.Values{"attempt": {key}}))
}

// probe reads the attempt's session, as for a purchase from the cart.
func (klarnaBuyAgainFlow) probe(ctx context.Context, pr *prober, c *customer, o shopOrder) (holding, error) {
	return klarnaSessionHolding(ctx, pr, c.attemptFor(o.id))
}

func (klarnaBuyAgainFlow) count(_ context.Context, _ *lane, _ *customer, s snapshot) (objects, error) {
	return klarnaOrders(s), nil
}

// klarnaSignInFlow is Sign in with Klarna followed by a Klarna purchase: the
// shop refreshes the customer's access token (the sandbox clock moves past
// its 5 minutes first) and hands it to the payment session.
type klarnaSignInFlow struct{}

func (klarnaSignInFlow) name() string   { return "klarnasignin" }
func (klarnaSignInFlow) usesCart() bool { return true }

const (
	signInStep = iota
	signInCheckoutStep
	signInApproveStep
	signInPlaceStep
)

func (klarnaSignInFlow) operations() []operation {
	return []operation{
		{name: "klarna.token_code", step: signInStep},
		{name: "klarna.token_refresh", step: signInCheckoutStep},
	}
}

func (f klarnaSignInFlow) steps() []step {
	k := klarnaSteps(false)
	return []step{
		signInStep:         {name: "sign in with Klarna", do: f.signIn},
		signInCheckoutStep: {name: "checkout", do: f.checkout},
		signInApproveStep:  k[klarnaApproveStep],
		signInPlaceStep:    k[klarnaAuthorizeStep],
	}
}

// newCustomer is a guest with a full cart and a Klarna identity of their
// own. The sandbox signs that identity in without its sign-in pages
// (klarna_auto_consent), as the control API's stand-in for the customer.
func (klarnaSignInFlow) newCustomer(ctx context.Context, l *lane) (*customer, error) {
	c := newCustomer(newBrowser(l.shop.ShopURL), l.email("signin"))
	if err := l.sb.settings(ctx, map[string]any{"klarna_auto_consent": c.email}); err != nil {
		return nil, err
	}
	return c, c.b.addToCart(ctx, "stoneware-mug")
}

// signIn presses "Sign in with Klarna"; the browser goes to Klarna and back
// to the shop's callback, and lands on the account page. (Signed in
// already, the shop sends the browser straight there.)
func (klarnaSignInFlow) signIn(ctx context.Context, l *lane, c *customer) (page, bool, error) {
	p := c.b.follow(ctx, c.b.post(ctx, "/auth/klarna/start", nil))
	return p, p.err == nil && p.status == http.StatusOK && strings.Contains(p.text(), "Signed in as"), nil
}

// checkout waits out the access token's 5 minutes on the sandbox clock, so
// the shop refreshes it, then chooses Klarna.
func (klarnaSignInFlow) checkout(ctx context.Context, l *lane, c *customer) (page, bool, error) {
	if err := l.sb.advance(ctx, 6*time.Minute); err != nil {
		return page{}, false, err
	}
	return klarnaCheckout(ctx, l, c)
}

func (klarnaSignInFlow) probe(ctx context.Context, pr *prober, c *customer, o shopOrder) (holding, error) {
	return klarnaSessionHolding(ctx, pr, c.attemptFor(o.id))
}

// count adds the identity's grants at Klarna, counted by revoking them (the
// scenario is over): one sign-in is one grant.
func (klarnaSignInFlow) count(ctx context.Context, l *lane, c *customer, s snapshot) (objects, error) {
	o := klarnaOrders(s)
	grants, err := l.sb.klarnaRevokeGrants(ctx, c.email)
	if err != nil {
		return o, err
	}
	o.summary += ", " + plural(grants, "grant")
	o.counts["grant"] = grants
	return o, nil
}
