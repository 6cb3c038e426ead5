package klarnasignin

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"refshop/web/sandbox/control"
	sbklarna "refshop/web/sandbox/klarna"
)

// Base is where the issuer lives below the sandbox origin.
const Base = "/klarna/login"

// idpPath is the path family Klarna's own docs and clients use
// (login.klarna.com/eu/lp/idp/...). A newer capture of Klarna's discovery
// document puts the endpoints directly below the issuer instead; the sources
// disagree, so both families are served.
const idpPath = Base + "/eu/lp/idp"

// region is one Klarna region's identity provider: its own issuer, signing
// key, discovery, JWKS, endpoints and sign-in pages. Klarna's OpenID
// Connect page lists the issuers: Europe's is the login host
// (https://login.klarna.com, test https://login.playground.klarna.com) with
// its endpoints below /eu/lp/idp; North America's is
// https://login.klarna.com/na/lp/idp (test
// https://login.playground.klarna.com/na/lp/idp). Tokens, codes and grants
// are valid only at the issuer that made them.
type region struct {
	id     string // "eu", "na": market.Region's values
	issuer string // the issuer's path below Base
	idp    string // where its endpoints and pages are below Base
}

var (
	regionEU = region{id: "eu", issuer: "", idp: "/eu/lp/idp"}
	regionNA = region{id: "na", issuer: "/na/lp/idp", idp: "/na/lp/idp"}
	regions  = []region{regionEU, regionNA}
)

// regionOf is the region an object was made in ("" is Europe: everything
// stored before North America was served).
func regionOf(id string) region {
	if id == regionNA.id {
		return regionNA
	}
	return regionEU
}

// Operations the sandbox counts and can fail on demand. klarna.token_code and
// klarna.token_refresh are part of the control API's contract (package
// control): the token endpoint counts a call under klarna.token_refresh when
// grant_type is refresh_token and under klarna.token_code otherwise.
const (
	opDiscovery    = "klarna.discovery"
	opJWKS         = "klarna.jwks"
	opAuthorize    = "klarna.authorize"
	opTokenCode    = "klarna.token_code"
	opTokenRefresh = "klarna.token_refresh"
	opUserinfo     = "klarna.userinfo"
	opRevoke       = "klarna.revoke"
)

// Lifetimes Klarna does not document. The access and refresh token lifetimes,
// which it does, are the settings klarna_access_token_ttl and
// klarna_refresh_token_ttl.
const (
	// CodeTTL: authorization codes are short-lived and single use. Ory Hydra
	// (which Klarna's ory_ac_ prefixes point to) defaults to 10 minutes; the
	// sandbox uses 60 seconds so that a shop that sits on a code is caught.
	CodeTTL = 60 * time.Second
	// ChallengeTTL: a sign-in page left open this long must start again.
	ChallengeTTL = 10 * time.Minute
	// IDTokenTTL: Hydra's default ID token lifetime.
	IDTokenTTL = time.Hour
)

// Provider is the emulated identity provider and the objects it keeps.
type Provider struct {
	st   *control.State
	log  *slog.Logger
	keys map[string]jose.JSONWebKey // sign each region's ID tokens; the store keeps them

	mu         sync.Mutex
	challenges map[string]*challenge // sign-in pages in progress, by id
	codes      map[string]*authCode
	access     map[string]*accessToken
	refresh    map[string]*refreshToken
}

// authRequest is a validated authorize request.
type authRequest struct {
	ClientID      string
	RedirectURI   string
	State         string
	Nonce         string
	Scopes        []string
	CodeChallenge string
	Method        string // "S256" or "plain"; "" without PKCE
	RequestedAt   time.Time
	Region        string `json:",omitempty"` // the region whose authorize endpoint it came to; "" is Europe
}

// challenge is one sign-in in progress on the sandbox's pages.
type challenge struct {
	req      authRequest
	identity *Identity // set once the customer picked who they are
	expires  time.Time
}

// authCode is an issued authorization code. grant is set once it was
// exchanged, so a second use can revoke what the first one issued.
type authCode struct {
	req      authRequest
	identity Identity
	authTime time.Time
	expires  time.Time
	used     bool
	grant    *grant
}

// grant is what one consent produced: every access and refresh token issued
// from one code, through any number of refreshes. Revoking it ends them all.
type grant struct {
	id       string // for the store, which keeps grants apart from their tokens
	clientID string
	identity Identity
	scopes   []string
	authTime time.Time
	region   string // the issuer that made it: only that issuer's endpoints know its tokens
	// revoked says why the grant ended: "" (live), "reuse" (a used refresh
	// token or code came back: tokens stay known but inactive, as fosite keeps
	// them) or "revocation" (revoked at /oauth2/revoke: tokens are gone).
	revoked string
}

type accessToken struct {
	grant   *grant
	expires time.Time
	revoked bool // replaced by a refresh: fosite revokes the old access token
}

type refreshToken struct {
	grant   *grant
	expires time.Time
	used    bool
}

// Register adds Sign in with Klarna to the sandbox (when Klarna is emulated).
func Register(mux *http.ServeMux, st *control.State, log *slog.Logger) {
	New(mux, st, log)
}

// New registers the provider's routes on mux and returns it (nil when Klarna
// runs against its real environment).
func New(root *http.ServeMux, st *control.State, log *slog.Logger) *Provider {
	if !st.Config.Klarna.Enabled {
		return nil
	}
	p := &Provider{st: st, log: log, keys: maps.Clone(signingKeys())}
	p.reset()
	st.Operations(opDiscovery, opJWKS, opAuthorize, opTokenCode, opTokenRefresh, opUserinfo, opRevoke)
	// Klarna Payments answers errors as ErrorV2; this part of Klarna answers
	// OAuth 2.0 errors, so its operations get their own shape.
	for _, op := range []string{opDiscovery, opJWKS, opTokenCode, opTokenRefresh, opUserinfo, opRevoke} {
		st.ErrorShape(op, faultShape)
	}
	st.ErrorShape(opAuthorize, p.authorizeFaultShape)
	st.OnReset(p.reset)
	mux := st.Persist("klarnasignin", p, root)
	// Klarna Payments recognises a customer.klarna_access_token this
	// provider vouches for: the widget then skips its login step.
	sbklarna.SetAccessTokenValidator(st, p.VouchFor)

	// Europe at both families; North America below its own issuer.
	families := map[string]region{idpPath: regionEU, Base: regionEU, Base + regionNA.idp: regionNA}
	for fam, rg := range families {
		mux.HandleFunc("GET "+fam+"/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) { p.discovery(w, r, rg) })
		mux.HandleFunc("GET "+fam+"/.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) { p.jwks(w, r, rg) })
		mux.HandleFunc("GET "+fam+"/oauth2/auth", func(w http.ResponseWriter, r *http.Request) { p.authorize(w, r, rg) })
		mux.HandleFunc("POST "+fam+"/oauth2/token", func(w http.ResponseWriter, r *http.Request) { p.token(w, r, rg) })
		mux.HandleFunc("GET "+fam+"/userinfo", func(w http.ResponseWriter, r *http.Request) { p.userinfo(w, r, rg) })
		mux.HandleFunc("POST "+fam+"/userinfo", func(w http.ResponseWriter, r *http.Request) { p.userinfo(w, r, rg) })
		mux.HandleFunc("POST "+fam+"/oauth2/revoke", func(w http.ResponseWriter, r *http.Request) { p.revoke(w, r, rg) })
	}
	// The sandbox's own sign-in pages (Klarna's are its own business).
	for _, rg := range regions {
		mux.HandleFunc("POST "+Base+rg.idp+"/signin", func(w http.ResponseWriter, r *http.Request) { p.signIn(w, r, rg) })
		mux.HandleFunc("POST "+Base+rg.idp+"/consent", func(w http.ResponseWriter, r *http.Request) { p.consent(w, r, rg) })
	}
	// What a customer does in the Klarna app: take back the access they
	// gave the shop. Every grant of that identity ends, as a revocation does.
	mux.HandleFunc("POST /control/klarna/login/revoke", p.controlRevoke)
	return p
}

// controlRevoke is POST /control/klarna/login/revoke {"email": "..."}: it
// revokes every grant of the identity with that email and answers how many.
func (p *Provider) controlRevoke(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Email string `json:"email"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Email == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": `body must be {"email": "<a signed-in identity's email>"}`})
		return
	}
	p.mu.Lock()
	revoked := map[*grant]bool{}
	for _, rt := range p.refresh {
		if g := rt.grant; strings.EqualFold(g.identity.Email, body.Email) && g.revoked == "" {
			g.revoked = "revocation"
			revoked[g] = true
		}
	}
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]int{"revoked": len(revoked)})
}

func (p *Provider) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.challenges = map[string]*challenge{}
	p.codes = map[string]*authCode{}
	p.access = map[string]*accessToken{}
	p.refresh = map[string]*refreshToken{}
}

// issuer is a region's issuer URL: the sandbox's origin, Base and the
// region's issuer path.
func (p *Provider) issuer(r *http.Request, rg region) string {
	base := strings.TrimRight(p.st.Config.BaseURL, "/")
	if base == "" {
		base = "http://" + r.Host
	}
	return base + Base + rg.issuer
}

// redirectURI is the one redirect URI the shop's client is registered with.
func (p *Provider) redirectURI() string {
	return strings.TrimRight(p.st.Config.ShopBaseURL, "/") + "/auth/klarna/callback"
}

// Recognise reports whose accessToken is, when it is valid now: issued by
// this sandbox (either region's issuer), not expired on the sandbox clock,
// not replaced by a refresh and not revoked. Klarna Payments calls it for
// customer.klarna_access_token; RegionOf says which issuer made a token.
func (p *Provider) Recognise(accessToken string) (Identity, bool) {
	if p == nil || accessToken == "" {
		return Identity{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.activeAccess(accessToken)
	if a == nil {
		return Identity{}, false
	}
	return a.grant.identity, true
}

// VouchFor is the Klarna Payments API of region asking about a
// customer.klarna_access_token: the customer's email when the token is
// valid now and was issued by that region's issuer (Klarna's regions are
// separate accounts, so another region's token recognises no one).
func (p *Provider) VouchFor(accessToken, region string) (email string, ok bool) {
	if r, _ := p.RegionOf(accessToken); r != region {
		return "", false
	}
	id, ok := p.Recognise(accessToken)
	return id.Email, ok
}

// RegionOf returns the region ("eu" or "na") whose issuer made accessToken,
// valid or not, and false for a token this sandbox never issued.
func (p *Provider) RegionOf(accessToken string) (string, bool) {
	if p == nil {
		return "", false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.access[accessToken]
	if a == nil {
		return "", false
	}
	return regionOf(a.grant.region).id, true
}

// activeAccess returns the access token's record when it is valid now.
// Callers hold p.mu.
func (p *Provider) activeAccess(token string) *accessToken {
	a := p.access[token]
	if a == nil || a.revoked || a.grant.revoked != "" || !p.st.Now().Before(a.expires) {
		return nil
	}
	return a
}

// newToken returns an opaque token in Ory's format: prefix, 32 random bytes,
// a dot and a 32-byte "signature" (here random too).
func newToken(prefix string) string {
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	enc := base64.RawURLEncoding
	return prefix + enc.EncodeToString(b[:32]) + "." + enc.EncodeToString(b[32:])
}

// newID is a random identifier for the sandbox's own pages.
func newID() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
