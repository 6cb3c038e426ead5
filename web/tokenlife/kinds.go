package tokenlife

import "strings"

// kind is a kind of token, as a person reads it.
type kind struct {
	label   string
	account bool   // the customer's account's, not one payment's
	origin  string // where one first seen in a request came from
}

const earlier = "Obtained before these calls."

var (
	vippsAccess = kind{label: "Vipps access token", origin: "Fetched before these calls: the shop keeps one Vipps " +
		"access token per process and every order shares it until it expires."}
	altpayOAuth = kind{label: "Alternative Payments OAuth token", origin: "Fetched before these calls: the shop " +
		"keeps one OAuth token per process and every order shares it until it expires."}
	altpayCheckout = kind{label: "Alternative Payments checkout token (JWT)", origin: earlier}
	sikAccess      = kind{label: "Sign in with Klarna access token", account: true, origin: "Obtained before these " +
		"calls: when you signed in with Klarna, or by a refresh not listed here."}
	sikRefresh = kind{label: "Sign in with Klarna refresh token", account: true, origin: sikAccess.origin}
	sikID      = kind{label: "Sign in with Klarna ID token", account: true, origin: sikAccess.origin}
	customer   = kind{label: "Klarna customer_token", account: true, origin: "Obtained before these calls: an " +
		"earlier Klarna order linked your Klarna account and gave it."}
	clientToken = kind{label: "Klarna session client_token", origin: earlier}
	authToken   = kind{label: "Klarna authorization_token", origin: "Obtained by your browser from Klarna's " +
		"payment widget when you approved the payment: the shop never fetches it."}
	// The shop's own one-time token in the URLs Klarna calls it back on
	// (the authorization callback, the pending-order notification).
	callbackToken = kind{label: "Klarna callback token", origin: "Made by the shop for this payment and given to " +
		"Klarna in its callback URLs; Klarna presents it with every callback."}
)

// providerLabels name the providers in the fallback kind.
var providerLabels = map[string]string{"vipps": "Vipps", "klarna": "Klarna", "altpay": "Alternative Payments"}

// kindOf names a token by where it was seen: provider, operation (as the
// sandbox names it), and the field, header or path parameter that held it.
// hint is a revocation's token_type_hint. Sign in with Klarna's calls are
// the "klarna" provider's too: its fields are OAuth's.
func kindOf(provider, op, field, hint string) kind {
	f := strings.ToLower(field)
	bearer := f == "authorization" || f == "access_token"
	switch provider {
	case "vipps":
		if bearer {
			return vippsAccess
		}
	case "altpay":
		switch {
		case f == "token" && op == "checkout_auth_init":
			return altpayCheckout
		case bearer:
			return altpayOAuth
		}
	case "klarna":
		switch f {
		case "access_token", "klarna_access_token", "authorization":
			return sikAccess
		case "refresh_token":
			return sikRefresh
		case "id_token", "id_token_hint":
			return sikID
		case "token":
			if op == "authorization_callback" || op == "fraud_notification" {
				return callbackToken
			}
			if op == "revoke" {
				// The shop revokes refresh tokens; the hint says so.
				if hint == "access_token" {
					return sikAccess
				}
				return sikRefresh
			}
		case "customer_token", "token_id":
			return customer
		case "client_token":
			return clientToken
		case "authorization_token":
			return authToken
		}
	}
	p := providerLabels[provider]
	if p == "" {
		p = provider
	}
	if field == "" {
		field = "token"
	}
	return kind{label: p + " " + field, origin: earlier}
}
