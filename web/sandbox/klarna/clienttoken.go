package klarna

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// clientToken is the session's client_token: a JWT the merchant hands to
// Klarna.Payments.init in the browser. Like Klarna's, its payload names the
// session; the sandbox signs it with HS256 and a key it makes at its first
// start and then keeps in its store, and the widget's calls must carry it.
// The payload also lists the payment method categories the session offers,
// so the sandbox's SDK can refuse another one in load() and authorize() at
// once, as Klarna's throws PaymentMethodCategoryNotSupportedError. (What a
// real client token carries is Klarna's business: merchants must not read
// it.)
func (p *provider) clientToken(s *session) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	country := ""
	if s.Body.PurchaseCountry != nil {
		country = strings.ToUpper(*s.Body.PurchaseCountry)
	}
	payload, _ := json.Marshal(map[string]any{
		"session_id": s.ID, "base_url": p.st.Config.BaseURL + "/klarna", "purchase_country": country,
		"environment": "playground", "merchant_name": "refshop", "iat": s.CreatedAt.Unix(),
		"payment_method_categories": categoryIDs(country),
	})
	signing := header + "." + enc.EncodeToString(payload)
	return signing + "." + enc.EncodeToString(p.sign(signing))
}

func (p *provider) sign(s string) []byte {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// clientTokenSession returns the session id of a client token the sandbox
// signed, "" when the token is not one.
func (p *provider) clientTokenSession(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, p.sign(parts[0]+"."+parts[1])) {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		SessionID string `json:"session_id"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return ""
	}
	return claims.SessionID
}
