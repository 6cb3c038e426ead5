package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// vippsFlow is paying with Vipps MobilePay: the checkout form, the landing
// page (the sandbox's stand-in for the Vipps app: the customer approves
// there), and the return to the shop, which asks Vipps and records the
// payment authorized. The capture is the back office's, when the order
// ships (Norway's rule), and is not part of the customer's flow.
type vippsFlow struct{}

func (vippsFlow) name() string   { return "vipps" }
func (vippsFlow) usesCart() bool { return true }

const (
	vippsCheckout = iota
	vippsApprove
	vippsReturn
)

func (vippsFlow) operations() []operation {
	return []operation{
		{name: "vipps.accesstoken", step: vippsCheckout, prepare: expireToken},
		{name: "vipps.create_payment", step: vippsCheckout},
		{name: "vipps.get_payment", step: vippsReturn},
		{name: "vipps.events", step: vippsReturn},
		// Vipps's webhook when the customer approves (the shop registers at start).
		{name: "vipps.webhook_delivery", step: vippsApprove, event: true},
	}
}

func (f vippsFlow) steps() []step {
	return []step{
		vippsCheckout: {name: "checkout", do: f.checkout},
		vippsApprove:  {name: "approve in Vipps", do: f.approve},
		vippsReturn:   {name: "return to the shop", do: f.returnToShop},
	}
}

func (vippsFlow) newCustomer(ctx context.Context, l *lane) (*customer, error) {
	c := newCustomer(newBrowser(l.shop.ShopURL), l.email("vipps"))
	if err := c.b.signUp(ctx, c.email); err != nil {
		return nil, err
	}
	if err := c.b.inMarket(ctx, "no"); err != nil { // Vipps MobilePay is offered in Norway, in NOK
		return nil, err
	}
	return c, c.b.addToCart(ctx, "stoneware-mug")
}

// checkout submits the checkout page's Vipps form; the shop sends the
// browser to the payment's landing page.
func (vippsFlow) checkout(ctx context.Context, l *lane, c *customer) (page, bool, error) {
	a := c.begin()
	p := c.b.post(ctx, "/checkout/vipps", nil) // the shop asks for no phone number: the landing page does
	if !p.redirect() || !strings.HasPrefix(p.location, l.shop.SandboxURL+"/vipps/landing") {
		joinShownOrder(c, p)
		return p, false, nil
	}
	a.landing = p.location
	return p, true, nil
}

// approve is the customer on the landing page pressing Approve.
func (vippsFlow) approve(ctx context.Context, l *lane, c *customer) (page, bool, error) {
	p := c.b.get(ctx, c.cur.landing)
	token := p.doc().Find(`form input[name="token"]`).AttrOr("value", "")
	if p.err != nil || p.status != http.StatusOK || token == "" {
		return p, false, nil
	}
	phone, err := vippsTestPhone(ctx, l)
	if err != nil {
		return p, false, err
	}
	p = c.b.post(ctx, l.shop.SandboxURL+"/vipps/landing", url.Values{"token": {token}, "phone": {phone}, "action": {"approve"}})
	if !p.redirect() {
		return p, false, nil
	}
	c.cur.returnURL = p.location
	if u, err := url.Parse(p.location); err == nil && u.Query().Get("order") != "" {
		c.join(u.Query().Get("order"))
	}
	return p, true, nil
}

// returnToShop follows the landing page's redirect back to the shop, which
// settles the payment and shows the order.
func (vippsFlow) returnToShop(ctx context.Context, l *lane, c *customer) (page, bool, error) {
	p := c.b.follow(ctx, c.b.get(ctx, c.cur.returnURL))
	if p.err != nil || p.status != http.StatusOK {
		return p, false, nil
	}
	return p, statusOf(p.doc().Find(`[data-testid="order-status"]`)) == "authorized", nil
}

// probe reads the order's payment at Vipps. Its reference is the one the
// order page shows: "refshop-" and the order id.
func (vippsFlow) probe(ctx context.Context, pr *prober, c *customer, o shopOrder) (holding, error) {
	tok, err := pr.vippsToken(ctx)
	if err != nil {
		return holding{}, err
	}
	p, found, err := pr.l.sb.vippsPayment(ctx, tok, "refshop-"+o.id)
	if err != nil || !found {
		return holding{}, err
	}
	h := holding{exists: true, money: p.holdsMoney(), what: "payment " + p.State}
	switch {
	case p.Aggregate.Captured.Value > 0:
		h.what += ", captured"
	case h.money:
		h.what += ", not captured"
	}
	if h.money {
		// The shop records every payment Vipps reserves as authorized, and
		// empties the cart then; nothing is captured until the order ships.
		h.agree = []string{"authorized"}
		if p.Aggregate.Captured.Value > 0 {
			h.agree = []string{"captured"}
		}
	}
	// A payment still waiting for approval can be approved on its landing
	// page, if the customer was shown it.
	h.live = p.State == "CREATED" && c.attemptFor(o.id).landing != ""
	return h, nil
}

func (vippsFlow) count(_ context.Context, _ *lane, _ *customer, s snapshot) (objects, error) {
	var states []string
	for _, o := range s.orders {
		if o.exists {
			states = append(states, strings.TrimPrefix(o.what, "payment "))
		}
	}
	return objects{summary: plural(len(states), "payment") + list(states), counts: map[string]int{"payment": len(states)}}, nil
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func list(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return ": " + strings.Join(items, ", ")
}

// vippsTestPhone is a test user's number in the sandbox's sales unit's
// market (setting vipps_msn_country): the landing page refuses numbers of
// other markets, as the test environment does.
func vippsTestPhone(ctx context.Context, l *lane) (string, error) {
	var st struct {
		Settings struct {
			Country string `json:"vipps_msn_country"`
		} `json:"settings"`
	}
	if err := l.sb.control(ctx, http.MethodGet, "/control/state", nil, &st); err != nil {
		return "", err
	}
	switch st.Settings.Country {
	case "DK":
		return "4512345678", nil
	case "FI":
		return "358401234567", nil
	}
	return "4791234567", nil
}
