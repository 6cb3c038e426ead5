package altpay_test

import (
	"testing"
)

// A restart changes nothing the shop can see: its OAuth token and the
// checkout token in the customer's browser still work, the customer is still
// known (the shop invoices it again rather than being told "customer not
// found"), the invoices, the saved card and a payment's replay are all where
// they were, customers and invoices list in the same order and invoice
// numbers go on counting. Reset forgets it all, for good.
func TestObjectsSurviveARestart(t *testing.T) {
	e := newEnv(t)
	oauth, cust, inv, checkout := e.setup("ext-restart")
	other := e.customer(oauth, "ext-restart-2")
	invID := inv["id"].(string)
	second := e.call("POST", "/altpay/invoices", auth(oauth), map[string]any{"currency": "USD", "customer_id": cust, "due_date": "2025-03-24",
		"line_items": []map[string]any{{"amount": 12, "description": "Teapot", "quantity": 1}}})
	e.want(second, 201)
	pm := e.addCard(checkout, "tok_test_visa")["id"].(string)
	paid := e.pay(checkout, "payment-restart", payBody(pm, "card", "44.80"))
	e.want(paid, 200)
	list := e.call("GET", "/altpay/customers", auth(oauth), nil)
	invoices := e.call("GET", "/altpay/invoices", auth(oauth), nil)

	e.sb.Restart(t)
	for _, path := range []string{"/altpay/customers/" + cust, "/altpay/invoices/" + invID} {
		e.want(e.call("GET", path, auth(oauth), nil), 200)
	}
	if again := e.call("GET", "/altpay/customers", auth(oauth), nil); string(again.raw) != string(list.raw) {
		t.Errorf("customer list after a restart:\n%s\nbefore:\n%s", again.raw, list.raw)
	}
	// The invoice list, the paid one's status included: the restart is at
	// the same sandbox time.
	if again := e.call("GET", "/altpay/invoices", auth(oauth), nil); string(again.raw) != string(invoices.raw) {
		t.Errorf("invoice list after a restart:\n%s\nbefore:\n%s", again.raw, invoices.raw)
	}
	next := e.invoice(oauth, other)
	if next["invoice_number"] != "INV-00003" {
		t.Errorf("the next invoice after a restart is %v, want INV-00003", next["invoice_number"])
	}
	got := e.call("GET", "/altpay/checkout/invoice", auth(checkout), nil)
	if got.status != 200 || got.body["status"] != "PAID" {
		t.Errorf("checkout invoice with the checkout token from before the restart: %d %s", got.status, got.raw)
	}
	methods := e.call("GET", "/altpay/checkout/payment-methods", auth(checkout), nil)
	if data, _ := methods.body["data"].([]any); methods.status != 200 || len(data) != 1 || data[0].(map[string]any)["id"] != pm {
		t.Errorf("payment methods after a restart: %d %s, want the card %s", methods.status, methods.raw, pm)
	}
	if again := e.pay(checkout, "payment-restart", payBody(pm, "card", "44.80")); string(again.raw) != string(paid.raw) {
		t.Errorf("payment replay after a restart: %d %s, want %s", again.status, again.raw, paid.raw)
	}

	e.want(e.call("POST", "/control/reset", nil, nil), 200)
	e.sb.Restart(t)
	oauth = e.oauth()
	e.want(e.call("GET", "/altpay/customers/"+cust, auth(oauth), nil), 404)
}
