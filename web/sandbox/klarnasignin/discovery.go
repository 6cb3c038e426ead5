package klarnasignin

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

// signingKeys are the RSA keys a sandbox signs each region's ID tokens with
// (RS256) when its store holds none yet; the store then keeps them, so ID
// tokens outlive a restart. Each region is its own issuer with its own key,
// so one region's ID token never verifies at the other's JWKS. One set per
// process: generating 2048-bit keys per sandbox would slow every test that
// starts one. Their kids have the form of the kids in Klarna's published
// JWKS, "public:<uuid>".
var signingKeys = sync.OnceValue(func() map[string]jose.JSONWebKey {
	keys := map[string]jose.JSONWebKey{}
	for _, rg := range regions {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[rg.id] = jose.JSONWebKey{Key: k, KeyID: "public:" + uuid.NewString(), Algorithm: string(jose.RS256), Use: "sig"}
	}
	return keys
})

// scopesSupported is the list in Klarna's discovery document
// (https://login.klarna.com/.well-known/openid-configuration), plus
// profile:country from its scopes and claims page.
var scopesSupported = []string{"offline_access", "offline", "openid", "profile", "email", "phone", "billing_address",
	"national_identification_number", "create_payment_session", "profile:name", "profile:date_of_birth",
	"profile:locale", "profile:email", "profile:phone", "profile:billing_address", "profile:national_id",
	"profile:gender", "personalization:interests", "payment:request:create", "payment:recurring",
	"payment:authorization:list", "customer:login", "payment:customer_present", "payment:customer_not_present",
	"profile:country"}

// discovery serves a region's OpenID configuration. Keys are those of
// Klarna's discovery document; the values say what the sandbox implements:
// the code flow with the query response mode, two grants, RS256 ID tokens.
// Europe's endpoints are the /eu/lp/idp family that Klarna's docs use,
// except the revocation endpoint, which Klarna's document puts at
// /oauth2/revoke below the issuer. North America's discovery document is
// not published; its endpoints are below its issuer, /na/lp/idp, the
// revocation endpoint at <issuer>/oauth2/revoke as in Europe's (INFERENCE).
// Discovery lists every method the server supports; the client is
// registered with one of them (authenticateClient).
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request, rg region) {
	if p.st.Hit(w, r, opDiscovery) {
		return
	}
	iss := p.issuer(r, rg)
	idp := strings.TrimSuffix(iss, rg.issuer) + rg.idp
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                idp + "/oauth2/auth",
		"token_endpoint":                        idp + "/oauth2/token",
		"jwks_uri":                              idp + "/.well-known/jwks.json",
		"userinfo_endpoint":                     idp + "/userinfo",
		"revocation_endpoint":                   iss + "/oauth2/revoke",
		"subject_types_supported":               []string{"public"},
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token"},
		"scopes_supported":                      scopesSupported,
		"claims_supported":                      []string{"sub", "email", "email_verified", "phone", "phone_verified", "given_name", "family_name", "date_of_birth", "country", "locale"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic", "none"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"userinfo_signing_alg_values_supported": []string{"none"},
		"code_challenge_methods_supported":      []string{"plain", "S256"},
		"claims_parameter_supported":            false,
		"request_parameter_supported":           false,
	})
}

// jwks serves the public half of the region's signing key.
func (p *Provider) jwks(w http.ResponseWriter, r *http.Request, rg region) {
	if p.st.Hit(w, r, opJWKS) {
		return
	}
	p.mu.Lock()
	key := p.keys[rg.id]
	pub := key.Public()
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
}

// signIDToken makes an RS256 ID token for g. nonce is set on the code
// exchange's token (OIDC Core 3.1.3.6) and left out after a refresh. Callers
// hold p.mu.
func (p *Provider) signIDToken(r *http.Request, g *grant, nonce, accessToken string) (string, error) {
	now := p.st.Now()
	claims := map[string]any{
		"iss":       p.issuer(r, regionOf(g.region)),
		"sub":       g.identity.Sub,
		"aud":       []string{g.clientID},
		"exp":       now.Add(IDTokenTTL).Unix(),
		"iat":       now.Unix(),
		"auth_time": g.authTime.Unix(),
		"jti":       uuid.NewString(),
		"at_hash":   atHash(accessToken),
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	for k, v := range g.identity.claims(g.scopes) {
		claims[k] = v
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: p.keys[regionOf(g.region).id]},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	return jwt.Signed(signer).Claims(claims).Serialize()
}

// atHash is OIDC's at_hash for RS256: the left half of SHA-256, base64url.
func atHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}

// claims are the profile claims the granted scopes release: the profile:*
// scopes and the legacy email, phone and profile scopes of Klarna's scopes and
// claims page (see the package documentation).
func (i Identity) claims(scopes []string) map[string]any {
	c := map[string]any{}
	for _, s := range scopes {
		switch s {
		case "profile:name":
			c["given_name"], c["family_name"] = i.GivenName, i.FamilyName
		case "profile:email", "email":
			c["email"], c["email_verified"] = i.Email, true
		case "profile:phone", "phone":
			if i.Phone != "" {
				c["phone"], c["phone_verified"] = i.Phone, true
			}
		case "profile:date_of_birth":
			if i.DateOfBirth != "" {
				c["date_of_birth"] = i.DateOfBirth
			}
		case "profile:country":
			c["country"] = i.Country
		case "profile:locale":
			c["locale"] = i.Locale
		case "profile":
			c["given_name"], c["family_name"], c["locale"] = i.GivenName, i.FamilyName, i.Locale
			if i.DateOfBirth != "" {
				c["date_of_birth"] = i.DateOfBirth
			}
		}
	}
	return c
}
