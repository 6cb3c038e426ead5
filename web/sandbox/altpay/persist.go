package altpay

import (
	"sort"
	"time"

	"refshop/web/sandbox/store"
)

// What the store keeps of Alternative Payments (see package store):
// customers (with their place in the list order), invoices, the invoice
// counter, payment methods, payments, webhook subscriptions, the
// OAuth tokens handed out and the key that signs checkout tokens, so the
// tokens the shop and the browser hold still work after a restart.
const (
	kindKey        = "key"
	kindOAuthToken = "oauth_token"
	kindCustomer   = "customer"
	kindInvoice    = "invoice"
	kindCounter    = "counter"
	kindMethod     = "payment_method"
	kindPayment    = "payment"
	kindWebhook    = "webhook"
)

// The stored forms of the types with fields of their own that JSON would
// not see.
type (
	storedCustomer struct {
		customer
		Seq int // its place in p.order
	}
	storedMethod struct {
		paymentMethod
		CustomerID string
		Declines   bool
	}
	storedPayment struct {
		payment
		Request    string
		HTTPStatus int
		Reply      map[string]string
	}
)

// Dump returns every object the store keeps.
func (p *provider) Dump() []store.Object {
	p.mu.Lock()
	defer p.mu.Unlock()
	objs := []store.Object{
		{Kind: kindKey, ID: "checkout_token", Value: p.key},
		{Kind: kindCounter, ID: "invoice_number", Value: p.nextInv},
	}
	objs = append(objs, store.All(kindOAuthToken, p.tokens)...)
	for i, id := range p.order {
		objs = append(objs, store.Object{Kind: kindCustomer, ID: id, Value: storedCustomer{*p.customers[id], i}})
	}
	objs = append(objs, store.All(kindInvoice, p.invoices)...)
	for id, m := range p.methods {
		objs = append(objs, store.Object{Kind: kindMethod, ID: id, Value: storedMethod{*m, m.customerID, m.declines}})
	}
	for key, pay := range p.payments {
		objs = append(objs, store.Object{Kind: kindPayment, ID: key, Value: storedPayment{*pay, pay.request, pay.status, pay.reply}})
	}
	objs = append(objs, store.All(kindWebhook, p.hooks)...)
	return store.Encoded(objs)
}

// Restore takes back what the store kept. With nothing kept (the first
// start) the provider stays as reset made it.
func (p *provider) Restore(l store.Loaded) error {
	var key []byte
	var next int
	var err error
	if !store.One(l, kindKey, "checkout_token", &key, &err) {
		return err
	}
	store.One(l, kindCounter, "invoice_number", &next, &err)
	tokens := store.Decode[time.Time](l, kindOAuthToken, &err)
	customers := store.Decode[storedCustomer](l, kindCustomer, &err)
	invoices := store.Decode[*invoice](l, kindInvoice, &err)
	methods := store.Decode[storedMethod](l, kindMethod, &err)
	payments := store.Decode[storedPayment](l, kindPayment, &err)
	hooks := store.Decode[*subscription](l, kindWebhook, &err)
	if err != nil {
		return err
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	p.key, p.nextInv, p.tokens, p.invoices, p.hooks = key, next, tokens, invoices, hooks
	// The list order is the order of creation, which the invoice numbers
	// count.
	p.invOrder = nil
	for id := range invoices {
		p.invOrder = append(p.invOrder, id)
	}
	sort.Slice(p.invOrder, func(i, j int) bool { return invoices[p.invOrder[i]].Number < invoices[p.invOrder[j]].Number })
	p.customers, p.order = map[string]*customer{}, nil
	for id, c := range customers {
		p.customers[id] = &c.customer
		p.order = append(p.order, id)
	}
	sort.Slice(p.order, func(i, j int) bool { return customers[p.order[i]].Seq < customers[p.order[j]].Seq })
	p.methods = map[string]*paymentMethod{}
	for id, m := range methods {
		pm := m.paymentMethod
		pm.customerID, pm.declines = m.CustomerID, m.Declines
		p.methods[id] = &pm
	}
	p.payments = map[string]*payment{}
	for key, sp := range payments {
		pay := sp.payment
		pay.request, pay.status, pay.reply = sp.Request, sp.HTTPStatus, sp.Reply
		p.payments[key] = &pay
	}
	return nil
}
