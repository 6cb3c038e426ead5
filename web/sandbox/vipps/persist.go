package vipps

import "refshop/web/sandbox/store"

// What the store keeps of Vipps MobilePay (see package store): every payment
// with its history, the idempotency records, and the key that signs access
// tokens, so a token the shop holds still works after a restart, and the
// webhooks with their secrets. The landing tokens are found again in the
// payments.
const (
	kindKey         = "key"
	kindPayment     = "payment"
	kindIdempotency = "idempotency"
	kindWebhook     = "webhook"
)

// Dump returns every object the store keeps.
func (p *provider) Dump() []store.Object {
	p.mu.Lock()
	defer p.mu.Unlock()
	objs := []store.Object{{Kind: kindKey, ID: "access_token", Value: p.key}}
	objs = append(objs, store.All(kindPayment, p.payments)...)
	objs = append(objs, store.All(kindWebhook, p.hooks)...)
	return store.Encoded(append(objs, store.All(kindIdempotency, p.idem)...))
}

// Restore takes back what the store kept; the signing key stays the one
// made at start when none was kept.
func (p *provider) Restore(l store.Loaded) error {
	var key []byte
	var err error
	found := store.One(l, kindKey, "access_token", &key, &err)
	payments := store.Decode[*payment](l, kindPayment, &err)
	idem := store.Decode[idemRecord](l, kindIdempotency, &err)
	hooks := store.Decode[*webhook](l, kindWebhook, &err)
	// Payments stored before webhooks existed carry no Notified: their
	// events are history, not news, and raise no webhook now.
	notified := store.Decode[struct{ Notified *int }](l, kindPayment, &err)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if found {
		p.key = key
	}
	p.payments, p.idem, p.landing, p.hooks = payments, idem, map[string]string{}, hooks
	for ref, pay := range payments {
		if notified[ref].Notified == nil {
			pay.Notified = len(pay.Events)
		}
		if pay.LandingToken != "" {
			p.landing[pay.LandingToken] = ref
		}
	}
	return nil
}
