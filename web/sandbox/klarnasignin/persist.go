package klarnasignin

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"refshop/web/sandbox/store"
)

// What the store keeps of Sign in with Klarna (see package store): the
// grants, the codes, access and refresh tokens issued from them (each
// naming its grant, which revoking ends for all of them), the sign-in pages
// in progress and the key that signs ID tokens.
const (
	kindKey       = "key"
	kindGrant     = "grant"
	kindCode      = "code"
	kindAccess    = "access_token"
	kindRefresh   = "refresh_token"
	kindChallenge = "challenge"
)

// keyID is the stored name of a region's signing key: Europe's keeps the
// name it had before North America was served.
func keyID(rg region) string {
	if rg == regionEU {
		return "id_token"
	}
	return "id_token_" + rg.id
}

// The stored forms: the same fields, exported, with grants by id.
type (
	storedGrant struct {
		ClientID string
		Identity Identity
		Scopes   []string
		AuthTime time.Time
		Revoked  string
		Region   string `json:",omitempty"` // "" is Europe
	}
	storedCode struct {
		Req               authRequest
		Identity          Identity
		AuthTime, Expires time.Time
		Used              bool
		Grant             string // "" until exchanged
	}
	storedToken struct {
		Grant   string
		Expires time.Time
		Revoked bool `json:",omitempty"` // access tokens
		Used    bool `json:",omitempty"` // refresh tokens
	}
	storedChallenge struct {
		Req      authRequest
		Identity *Identity
		Expires  time.Time
	}
)

// Dump returns every object the store keeps.
func (p *Provider) Dump() []store.Object {
	p.mu.Lock()
	defer p.mu.Unlock()
	var objs []store.Object
	for _, rg := range regions {
		objs = append(objs, store.Object{Kind: kindKey, ID: keyID(rg), Value: p.keys[rg.id]})
	}
	grants := map[string]*grant{}
	grantID := func(g *grant) string {
		if g == nil {
			return ""
		}
		grants[g.id] = g
		return g.id
	}
	for id, c := range p.challenges {
		objs = append(objs, store.Object{Kind: kindChallenge, ID: id, Value: storedChallenge{c.req, c.identity, c.expires}})
	}
	for code, c := range p.codes {
		objs = append(objs, store.Object{Kind: kindCode, ID: code,
			Value: storedCode{c.req, c.identity, c.authTime, c.expires, c.used, grantID(c.grant)}})
	}
	for tok, a := range p.access {
		objs = append(objs, store.Object{Kind: kindAccess, ID: tok, Value: storedToken{Grant: grantID(a.grant), Expires: a.expires, Revoked: a.revoked}})
	}
	for tok, r := range p.refresh {
		objs = append(objs, store.Object{Kind: kindRefresh, ID: tok, Value: storedToken{Grant: grantID(r.grant), Expires: r.expires, Used: r.used}})
	}
	for id, g := range grants {
		objs = append(objs, store.Object{Kind: kindGrant, ID: id, Value: storedGrant{g.clientID, g.identity, g.scopes, g.authTime, g.revoked, g.region}})
	}
	return store.Encoded(objs)
}

// Restore takes back what the store kept, every token pointing at its
// grant again; the signing key stays the process's when none was kept.
func (p *Provider) Restore(l store.Loaded) error {
	var err error
	keys := map[string]jose.JSONWebKey{}
	for _, rg := range regions {
		var key jose.JSONWebKey
		if store.One(l, kindKey, keyID(rg), &key, &err) {
			if err == nil && (!key.Valid() || key.IsPublic()) {
				return errors.New("the stored ID token key of region " + rg.id + " is not a private signing key")
			}
			keys[rg.id] = key
		}
	}
	stored := store.Decode[storedGrant](l, kindGrant, &err)
	challenges := store.Decode[storedChallenge](l, kindChallenge, &err)
	codes := store.Decode[storedCode](l, kindCode, &err)
	access := store.Decode[storedToken](l, kindAccess, &err)
	refresh := store.Decode[storedToken](l, kindRefresh, &err)
	if err != nil {
		return err
	}
	grants := make(map[string]*grant, len(stored))
	for id, g := range stored {
		grants[id] = &grant{id: id, clientID: g.ClientID, identity: g.Identity, scopes: g.Scopes, authTime: g.AuthTime, revoked: g.Revoked, region: g.Region}
	}
	// grantOf is the grant a token names; a token naming none that is
	// stored sets err. A code not yet exchanged names none.
	grantOf := func(kind, id, gid string) *grant {
		g := grants[gid]
		if g == nil && err == nil && (gid != "" || kind != kindCode) {
			err = fmt.Errorf("%s %q names grant %q, which is not stored", kind, id, gid)
		}
		return g
	}
	cs := make(map[string]*challenge, len(challenges))
	for id, c := range challenges {
		cs[id] = &challenge{req: c.Req, identity: c.Identity, expires: c.Expires}
	}
	acs := make(map[string]*authCode, len(codes))
	for code, c := range codes {
		acs[code] = &authCode{req: c.Req, identity: c.Identity, authTime: c.AuthTime, expires: c.Expires, used: c.Used,
			grant: grantOf(kindCode, code, c.Grant)}
	}
	ats := make(map[string]*accessToken, len(access))
	for tok, a := range access {
		ats[tok] = &accessToken{grant: grantOf(kindAccess, tok, a.Grant), expires: a.Expires, revoked: a.Revoked}
	}
	rts := make(map[string]*refreshToken, len(refresh))
	for tok, r := range refresh {
		rts[tok] = &refreshToken{grant: grantOf(kindRefresh, tok, r.Grant), expires: r.Expires, used: r.Used}
	}
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, key := range keys {
		p.keys[id] = key
	}
	p.challenges, p.codes, p.access, p.refresh = cs, acs, ats, rts
	return nil
}
