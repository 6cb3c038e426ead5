package klarna

import (
	"fmt"

	"refshop/web/sandbox/store"
)

// What the store keeps of Klarna Payments and the Customer Token API (see
// package store): sessions, authorizations, orders, account links, every
// account-linking customer token ever issued (a rotated one stays known to
// its link), the Customer Token API's tokens, the idempotency records and the key that signs client tokens,
// so the client token in a customer's browser still opens the widget.
const (
	kindKey         = "key"
	kindSession     = "session"
	kindAuth        = "authorization"
	kindOrder       = "order"
	kindLink        = "link"
	kindToken       = "customer_token"  // account-linking token -> its link's id
	kindRecurring   = "recurring_token" // a Customer Token API token_id
	kindIdempotency = "idempotency"
)

// Dump returns every object the store keeps.
func (p *provider) Dump() []store.Object {
	p.mu.Lock()
	defer p.mu.Unlock()
	objs := []store.Object{{Kind: kindKey, ID: "client_token", Value: p.key}}
	objs = append(objs, store.All(kindSession, p.sessions)...)
	objs = append(objs, store.All(kindAuth, p.auths)...)
	objs = append(objs, store.All(kindOrder, p.orders)...)
	objs = append(objs, store.All(kindLink, p.links)...)
	for tok, l := range p.tokens {
		objs = append(objs, store.Object{Kind: kindToken, ID: tok, Value: l.ID})
	}
	objs = append(objs, store.All(kindRecurring, p.recurring)...)
	return store.Encoded(append(objs, store.All(kindIdempotency, p.idem)...))
}

// Restore takes back what the store kept; the signing key stays the one
// made at start when none was kept.
func (p *provider) Restore(l store.Loaded) error {
	var key []byte
	var err error
	found := store.One(l, kindKey, "client_token", &key, &err)
	sessions := store.Decode[*session](l, kindSession, &err)
	auths := store.Decode[*authorization](l, kindAuth, &err)
	orders := store.Decode[*order](l, kindOrder, &err)
	links := store.Decode[*link](l, kindLink, &err)
	tokenLinks := store.Decode[string](l, kindToken, &err)
	recurring := store.Decode[*recurringToken](l, kindRecurring, &err)
	idem := store.Decode[*idemRecord](l, kindIdempotency, &err)
	if err != nil {
		return err
	}
	tokens := make(map[string]*link, len(tokenLinks))
	for tok, id := range tokenLinks {
		if tokens[tok] = links[id]; tokens[tok] == nil {
			return fmt.Errorf("customer token %s belongs to link %s, which is not stored", tok, id)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if found {
		p.key = key
	}
	p.sessions, p.auths, p.orders, p.links, p.tokens, p.recurring, p.idem = sessions, auths, orders, links, tokens, recurring, idem
	return nil
}
