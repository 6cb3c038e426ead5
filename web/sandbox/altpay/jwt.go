package altpay

import (
	"errors"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// checkoutClaims are the checkout token's own claims (partner_id, client_id,
// customer_id, invoice_id, with exp). Alternative Payments documents that the
// token is scoped to one customer and one invoice and lives a limited time
// (https://docs.alternativepayments.io/web-sdk/authentication), not its
// claims or algorithm: these names are the sandbox's choice. The documented
// example token starts "eyJhbGciOiJIUzI1NiIs", which is {"alg":"HS256",...},
// so the sandbox signs with HS256 under a random key that only it knows (new
// at reset, kept across restarts); it adds iat and jti. Nobody but the provider
// verifies the token: the shop and the browser treat it as opaque.
type checkoutClaims struct {
	PartnerID  string `json:"partner_id"`
	ClientID   string `json:"client_id"`
	CustomerID string `json:"customer_id"`
	InvoiceID  string `json:"invoice_id"`
}

var (
	errTokenExpired = errors.New("checkout token expired")
	errTokenInvalid = errors.New("invalid checkout token")
)

// mintCheckoutToken signs claims valid for ttl from now (the sandbox clock).
// exp is whole seconds, so it is now+ttl rounded down.
func mintCheckoutToken(key []byte, c checkoutClaims, now time.Time, ttl time.Duration) (string, time.Time, error) {
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", time.Time{}, err
	}
	exp := now.Add(ttl).Truncate(time.Second)
	std := jwt.Claims{Expiry: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(now), ID: newID("cat")}
	tok, err := jwt.Signed(sig).Claims(std).Claims(c).Serialize()
	return tok, exp, err
}

// verifyCheckoutToken checks the signature, then the expiry against now: a
// token is no longer valid at its exp second (RFC 7519 4.1.4).
func verifyCheckoutToken(key []byte, tok string, now time.Time) (checkoutClaims, error) {
	var c checkoutClaims
	t, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		return c, errTokenInvalid
	}
	var std jwt.Claims
	if err := t.Claims(key, &std, &c); err != nil {
		return c, errTokenInvalid
	}
	if std.Expiry == nil || c.InvoiceID == "" || c.CustomerID == "" || c.PartnerID != partnerID {
		return c, errTokenInvalid
	}
	if !now.Before(std.Expiry.Time()) {
		return c, errTokenExpired
	}
	return c, nil
}
