package main

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"refshop/web/sandbox/store"
)

// Kind is a kind of secret, as the report names it.
type Kind struct {
	Name string
	// Browser: the protocol hands this kind to the customer's browser, so a
	// page of the shop may hold it, and the shop keeps it in one documented
	// column to render that page again (see browserColumns). The log never
	// may.
	Browser bool
}

// The kinds. The protocol gives the browser three of them: Klarna's
// client_token (Klarna.Payments.init takes it), the Alternative Payments
// checkout token (the page that runs the checkout snippet carries it, and
// onAccessTokenExpired fetches a new one) and the Vipps landing token (the
// redirectUrl the customer is sent to). Every other kind stays between the
// shop and the provider: an authorization code or a Klarna authorization
// token passes through the browser on its way to the shop, but no page of
// the shop may show it back.
var (
	kindCredential      = Kind{Name: "merchant credential"}
	kindSigningKey      = Kind{Name: "sandbox signing key"}
	kindVippsAccess     = Kind{Name: "vipps access_token"}
	kindVippsLanding    = Kind{Name: "vipps landing token", Browser: true}
	kindKlarnaClient    = Kind{Name: "klarna client_token", Browser: true}
	kindKlarnaAuth      = Kind{Name: "klarna authorization_token"}
	kindKlarnaCustomer  = Kind{Name: "klarna customer_token"}
	kindKlarnaRecurring = Kind{Name: "klarna recurring token_id"}
	kindSigninCode      = Kind{Name: "klarnasignin authorization code"}
	kindSigninAccess    = Kind{Name: "klarnasignin access_token"}
	kindSigninRefresh   = Kind{Name: "klarnasignin refresh_token"}
	kindSigninIDToken   = Kind{Name: "klarnasignin id_token"}
	kindAltpayAccess    = Kind{Name: "altpay access_token"}
	kindAltpayCheckout  = Kind{Name: "altpay checkout token", Browser: true}
	// The secrets the shop's webhook registrations were given: every
	// delivery presents one (Alternative Payments' as its Bearer) or a
	// signature made with it (Vipps MobilePay's), and the shop records the
	// deliveries it receives (web/inbound).
	kindVippsWebhook  = Kind{Name: "vipps webhook secret"}
	kindAltpayWebhook = Kind{Name: "altpay webhook secret_key"}
)

// Secret is one value that must not appear where the scan looks.
type Secret struct {
	Kind  Kind
	Name  string // what it is beyond its kind (a credential's variable), or ""
	Value string
}

// Label names the secret for the report.
func (s Secret) Label() string {
	if s.Name != "" {
		return s.Kind.Name + " " + s.Name
	}
	return s.Kind.Name
}

// Signer is a key the sandbox signs tokens of one kind with. The sandbox
// keeps the key, not every token (Vipps access tokens, checkout tokens and
// ID tokens are never stored), so the scan finds those tokens by their
// signature: any JWT in a file that the key verifies is one.
type Signer struct {
	Kind Kind
	HMAC []byte           // HS256
	JWK  *jose.JSONWebKey // RS256 (Sign in with Klarna's ID tokens)
}

// Secrets is everything the scan looks for.
type Secrets struct {
	Values  []Secret
	Signers []Signer
	seen    map[string]bool
}

// again reports whether key was seen before, and marks it seen.
func (s *Secrets) again(key string) bool {
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	seen := s.seen[key]
	s.seen[key] = true
	return seen
}

func (s *Secrets) add(k Kind, name, value string) {
	if value == "" || s.again(value) {
		return
	}
	s.Values = append(s.Values, Secret{Kind: k, Name: name, Value: value})
}

func (s *Secrets) addHMAC(k Kind, key []byte) {
	if len(key) == 0 || s.again("hmac:"+string(key)) {
		return
	}
	s.add(kindSigningKey, "for "+k.Name, string(key))
	s.Signers = append(s.Signers, Signer{Kind: k, HMAC: key})
}

// Credentials adds the merchant credentials of the run: E2E_CREDENTIALS
// names them, E2E_<NAME> holds each value (e2e/playwright.config.ts).
func (s *Secrets) Credentials(getenv func(string) string) error {
	for _, name := range strings.Split(getenv("E2E_CREDENTIALS"), ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		v := getenv("E2E_" + name)
		if v == "" {
			return fmt.Errorf("E2E_CREDENTIALS names %s, but E2E_%s is empty", name, name)
		}
		s.add(kindCredential, name, v)
	}
	return nil
}

// The sandbox's parts in its store (web/sandbox/*/persist.go).
var parts = []string{"vipps", "klarna", "klarnasignin", "altpay"}

// Store adds every secret a copy of the sandbox's store holds: dir holds
// the copy as store.FileName. The kinds and fields read here are those of
// the providers' persist.go files; TestCollectFromSandbox runs each flow
// against a real sandbox so a renamed kind or field fails there.
func (s *Secrets) Store(ctx context.Context, dir string) error {
	st, err := store.Open(ctx, dir)
	if err != nil {
		return err
	}
	defer st.Close()
	loaded := map[string]store.Loaded{}
	for _, p := range parts {
		if loaded[p], err = st.Load(ctx, p); err != nil {
			return err
		}
	}
	return s.loaded(loaded)
}

func (s *Secrets) loaded(l map[string]store.Loaded) error {
	var err error
	ids := func(part, kind string, k Kind) {
		for id := range l[part][kind] {
			s.add(k, "", id)
		}
	}
	hmacKey := func(part, id string, k Kind) {
		var key []byte
		if store.One(l[part], "key", id, &key, &err) {
			s.addHMAC(k, key)
		}
	}

	hmacKey("vipps", "access_token", kindVippsAccess)
	for _, p := range store.Decode[struct{ LandingToken string }](l["vipps"], "payment", &err) {
		s.add(kindVippsLanding, "", p.LandingToken)
	}
	for _, w := range store.Decode[struct{ Secret string }](l["vipps"], "webhook", &err) {
		s.add(kindVippsWebhook, "", w.Secret)
	}

	hmacKey("klarna", "client_token", kindKlarnaClient)
	for _, sess := range store.Decode[struct{ ClientToken string }](l["klarna"], "session", &err) {
		s.add(kindKlarnaClient, "", sess.ClientToken)
	}
	ids("klarna", "authorization", kindKlarnaAuth)
	ids("klarna", "customer_token", kindKlarnaCustomer)
	ids("klarna", "recurring_token", kindKlarnaRecurring)

	ids("klarnasignin", "code", kindSigninCode)
	ids("klarnasignin", "access_token", kindSigninAccess)
	ids("klarnasignin", "refresh_token", kindSigninRefresh)
	for id, raw := range l["klarnasignin"]["key"] {
		var key jose.JSONWebKey
		if e := json.Unmarshal(raw, &key); e != nil {
			return fmt.Errorf("klarnasignin key %s: %w", id, e)
		}
		thumb, e := key.Thumbprint(crypto.SHA256)
		if e == nil && key.Valid() && !s.again("jwk:"+string(thumb)) {
			pub := key.Public()
			s.Signers = append(s.Signers, Signer{Kind: kindSigninIDToken, JWK: &pub})
		}
	}

	ids("altpay", "oauth_token", kindAltpayAccess)
	hmacKey("altpay", "checkout_token", kindAltpayCheckout)
	for _, w := range store.Decode[struct{ Secret string }](l["altpay"], "webhook", &err) {
		s.add(kindAltpayWebhook, "", w.Secret)
	}
	return err
}

// keptDirs lists the copies of the sandbox's store kept during the run
// (keep) in dataDir.
func keptDirs(dataDir string) ([]string, error) {
	entries, err := os.ReadDir(keptPath(dataDir))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, keptPath(dataDir, e.Name()))
		}
	}
	return dirs, nil
}
