package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// altpayFlow is pay by invoice with Alternative Payments: the checkout makes
// the provider customer and an invoice, the invoice page gets a checkout JWT
// from the shop, the browser pays at the provider's checkout API with it,
// and the shop confirms with the provider.
type altpayFlow struct{}

func (altpayFlow) name() string   { return "altpay" }
func (altpayFlow) usesCart() bool { return true }

const (
	altpayCheckoutStep = iota
	altpayTokenStep
	altpayPayStep
	altpayConfirmStep
)

func (altpayFlow) operations() []operation {
	return []operation{
		{name: "altpay.oauth_token", step: altpayCheckoutStep, prepare: expireToken},
		{name: "altpay.create_customer", step: altpayCheckoutStep},
		{name: "altpay.create_invoice", step: altpayCheckoutStep, sentOnce: true},
		{name: "altpay.checkout_auth_init", step: altpayTokenStep},
		{name: "altpay.get_invoice", step: altpayConfirmStep},
		// Alternative Payments' invoice_paid webhook when the customer pays
		// (the shop subscribes at start).
		{name: "altpay.webhook_delivery", step: altpayPayStep, event: true},
	}
}

func (f altpayFlow) steps() []step {
	return []step{
		altpayCheckoutStep: {name: "checkout", do: f.checkout},
		altpayTokenStep:    {name: "checkout token", do: f.token},
		altpayPayStep:      {name: "pay at the provider", do: f.pay},
		altpayConfirmStep:  {name: "confirm", do: f.confirm},
	}
}

// altpayScenario is what the flow keeps per customer: the marker invoice
// number taken before the scenario (see sandbox.altpayMarkerInvoice).
type altpayScenario struct {
	marker int
	token  string // the checkout JWT the invoice page holds
}

func (altpayFlow) newCustomer(ctx context.Context, l *lane) (*customer, error) {
	c := newCustomer(newBrowser(l.shop.ShopURL), l.email("altpay"))
	if err := c.b.signUp(ctx, c.email); err != nil {
		return nil, err
	}
	if err := c.b.inMarket(ctx, "us"); err != nil { // pay by invoice is offered in the United States, in USD
		return nil, err
	}
	if err := c.b.addToCart(ctx, "stoneware-mug"); err != nil {
		return nil, err
	}
	tok, err := l.sb.altpayToken(ctx)
	if err != nil {
		return nil, err
	}
	n, err := l.sb.altpayMarkerInvoice(ctx, tok, l.canary)
	if err != nil {
		return nil, fmt.Errorf("marker invoice: %v", err)
	}
	c.flowData = &altpayScenario{marker: n}
	return c, nil
}

func altpayData(c *customer) *altpayScenario { return c.flowData.(*altpayScenario) }

// checkout chooses "Pay by invoice"; the shop sends the browser to the
// invoice page.
func (altpayFlow) checkout(ctx context.Context, l *lane, c *customer) (page, bool, error) {
	c.begin()
	p := c.b.post(ctx, "/checkout/altpay", nil)
	id, ok := strings.CutPrefix(pathOf(p.location), "/invoices/")
	if !p.redirect() || !ok {
		joinShownOrder(c, p)
		return p, false, nil
	}
	c.join(id)
	p = c.b.get(ctx, p.location)
	if inv := p.doc().Find("#altpay-invoice").AttrOr("data-invoice", ""); inv != "" {
		c.cur.invoice = inv
	}
	return p, p.err == nil && p.status == http.StatusOK && c.cur.invoice != "", nil
}

// token is the invoice page's script asking the shop for a checkout JWT.
func (altpayFlow) token(ctx context.Context, l *lane, c *customer) (page, bool, error) {
	p := c.b.post(ctx, "/api/altpay/invoices/"+c.cur.order+"/token", nil)
	var out struct {
		Token string `json:"token"`
	}
	if p.err != nil || p.status != http.StatusOK || json.Unmarshal([]byte(p.body), &out) != nil || out.Token == "" {
		return p, false, nil
	}
	altpayData(c).token = out.Token
	return p, true, nil
}

// pay is the invoice page paying at the provider's checkout API with the
// checkout JWT, from the shop's origin: it reads the invoice, adds a test
// card and pays the total with one Idempotency-Key.
func (altpayFlow) pay(ctx context.Context, l *lane, c *customer) (page, bool, error) {
	tok := altpayData(c).token
	base := l.sb.url + "/altpay/checkout"
	call := func(method, path string, body any, key string) (page, map[string]any) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Origin", l.shop.ShopURL)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		p := c.b.do(ctx, req)
		var out map[string]any
		dec := json.NewDecoder(strings.NewReader(p.body))
		dec.UseNumber() // amounts stay as the provider wrote them ("36.00")
		_ = dec.Decode(&out)
		return p, out
	}
	p, inv := call(http.MethodGet, "/invoice?invoice_id="+c.cur.invoice, nil, "")
	if p.err != nil || p.status != http.StatusOK {
		return p, false, nil
	}
	p, pm := call(http.MethodPost, "/payment-methods/card?invoice_id="+c.cur.invoice, map[string]any{
		"card_provider_token": "tok_test_visa", "provider": "evervault",
		"address": map[string]string{"street_address": "Hauptstr. 1", "city": "Berlin", "postal_code": "10115", "country_code": "DE"},
	}, "")
	if p.err != nil || p.status >= 300 {
		return p, false, nil
	}
	p, pay := call(http.MethodPost, "/payments?invoice_id="+c.cur.invoice, map[string]any{
		"amount": fmt.Sprint(inv["total"]), "payment_date": time.Now().UTC().Format(time.RFC3339),
		"payment_method": "card", "payment_method_id": pm["id"],
	}, "faults-"+randomHex(8))
	return p, p.err == nil && p.status < 300 && pay["status"] == "succeeded", nil
}

// confirm is the invoice page's "I have paid" form: the shop asks the
// provider and shows the order.
func (altpayFlow) confirm(ctx context.Context, l *lane, c *customer) (page, bool, error) {
	p := c.b.follow(ctx, c.b.post(ctx, "/invoices/"+c.cur.order+"/confirm", nil))
	if p.err != nil || p.status != http.StatusOK || pathOf(p.url) != "/orders/"+c.cur.order {
		return p, false, nil
	}
	return p, statusOf(p.doc().Find(`[data-testid="order-status"]`)) == "captured", nil
}

// probe reads the order's invoice at the provider: paid means the provider
// has the customer's money. (An invoice only gets paid through the invoice
// page, so the customer's browser knows every invoice that can hold money.)
func (altpayFlow) probe(ctx context.Context, pr *prober, c *customer, o shopOrder) (holding, error) {
	a := c.attemptFor(o.id)
	id := a.invoice
	if id == "" {
		id = a.shown // made after the checkout answered (the shop asked again)
	}
	if id == "" {
		return holding{}, nil
	}
	tok, err := pr.altpayToken(ctx)
	if err != nil {
		return holding{}, err
	}
	inv, found, err := pr.l.sb.altpayInvoice(ctx, tok, id)
	if err != nil || !found {
		return holding{}, err
	}
	paid := inv.Status == "PAID"
	h := holding{exists: true, money: paid, what: "invoice " + inv.Number + " " + inv.Status, live: !paid}
	if paid {
		h.agree = []string{"captured"} // an invoice is paid in full at once
	}
	return h, nil
}

// count brackets the scenario with marker invoices to count every invoice
// the provider made for it, compares that with the invoices the shop shows
// on the customer's order pages, and counts the provider's customers with
// the customer's email.
func (altpayFlow) count(ctx context.Context, l *lane, c *customer, s snapshot) (objects, error) {
	tok, err := l.sb.altpayToken(ctx)
	if err != nil {
		return objects{}, err
	}
	end, err := l.sb.altpayMarkerInvoice(ctx, tok, l.canary)
	if err != nil {
		return objects{}, err
	}
	made := end - altpayData(c).marker - 1
	known := map[string]bool{}
	var states []string
	for _, o := range s.orders {
		op, _ := c.b.order(ctx, o.id)
		if op.reference != "" {
			known[op.reference] = true
		}
		if o.exists {
			states = append(states, strings.TrimPrefix(o.what, "invoice "))
		}
	}
	customers, err := l.sb.altpayCustomersWithEmail(ctx, tok, c.email)
	if err != nil {
		return objects{}, err
	}
	obj := objects{counts: map[string]int{"invoice": made, "customer": customers}}
	obj.summary = plural(made, "invoice") + list(states)
	if unknown := made - len(known); unknown > 0 {
		obj.summary += fmt.Sprintf(" (%d unknown to the shop)", unknown)
		obj.orphans = append(obj.orphans, fmt.Sprintf("%s at the provider that no order of the shop knows (an orphan invoice)", plural(unknown, "invoice")))
	}
	obj.summary += ", " + plural(customers, "customer")
	return obj, nil
}
