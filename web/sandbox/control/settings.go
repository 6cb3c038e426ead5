package control

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("90s", "5m").
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"90s\" or \"5m\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration string such as \"90s\" or \"5m\", got %q", s)
	}
	*d = Duration(v)
	return nil
}

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Settings are the sandbox's knobs, read and changed through the control API
// (GET /control/state, POST /control/settings) under their JSON names.
type Settings struct {
	KlarnaAccessTokenTTL       Duration `json:"klarna_access_token_ttl"`
	KlarnaRefreshTokenTTL      Duration `json:"klarna_refresh_token_ttl"`
	KlarnaAutoConsent          string   `json:"klarna_auto_consent"`
	KlarnaRotateCustomerTokens bool     `json:"klarna_rotate_customer_tokens"`
	// KlarnaCreateOrderIdempotent: Payments' create order replays an answer
	// for a repeated idempotency key (true, the default). Klarna documents
	// idempotency keys for Order Management and the Customer Token API
	// (https://docs.klarna.com/api/escalation-and-retry-policy/), not for this
	// call; false makes create order ignore the key, as real Klarna may, so a
	// retry after a lost answer meets the used authorization (404).
	KlarnaCreateOrderIdempotent bool     `json:"klarna_create_order_idempotent"`
	VippsAccessTokenTTL         Duration `json:"vipps_access_token_ttl"`
	AltpayOAuthTokenTTL         Duration `json:"altpay_oauth_token_ttl"`
	AltpayCheckoutTokenTTL      Duration `json:"altpay_checkout_token_ttl"`
	// VippsMSNCountry is the country the Vipps MobilePay test sales unit (the
	// MSN) is registered in: NO, DK or FI. The currency it accepts follows
	// (NOK, DKK, EUR), and so does the market of the phone numbers it knows
	// (https://developer.vippsmobilepay.com/docs/knowledge-base/across-borders,
	// .../knowledge-base/test-environment).
	VippsMSNCountry string `json:"vipps_msn_country"`
}

// VippsMSNCountries are the values vipps_msn_country accepts: the countries
// a Vipps MobilePay sales unit can be registered in, with their currency.
var VippsMSNCountries = map[string]string{"NO": "NOK", "DK": "DKK", "FI": "EUR"}

// DefaultSettings are the real providers' values.
func DefaultSettings() Settings {
	return Settings{
		KlarnaAccessTokenTTL:        Duration(5 * time.Minute),
		KlarnaRefreshTokenTTL:       Duration(1440 * time.Hour), // 60 days
		KlarnaCreateOrderIdempotent: true,
		VippsAccessTokenTTL:         Duration(time.Hour), // the test environment's
		AltpayOAuthTokenTTL:         Duration(time.Hour),
		AltpayCheckoutTokenTTL:      Duration(15 * time.Minute),
		VippsMSNCountry:             "NO", // a Norwegian test sales unit: NOK
	}
}

// apply returns s with changes applied, refusing unknown names, wrong types,
// non-positive lifetimes and a sales unit country Vipps MobilePay does not
// serve; on error s is unchanged.
func (s Settings) apply(changes map[string]json.RawMessage) (Settings, error) {
	if len(changes) == 0 {
		return s, fmt.Errorf("no settings given; known: %s", strings.Join(settingNames(s), ", "))
	}
	cur := map[string]json.RawMessage{}
	b, _ := json.Marshal(s)
	_ = json.Unmarshal(b, &cur)
	for name, v := range changes {
		if _, ok := cur[name]; !ok {
			return s, fmt.Errorf("unknown setting %q; known: %s", name, strings.Join(settingNames(s), ", "))
		}
		cur[name] = v
	}
	b, _ = json.Marshal(cur)
	var next Settings
	if err := json.Unmarshal(b, &next); err != nil {
		return s, fmt.Errorf("bad setting value: %v", err)
	}
	for name, d := range map[string]Duration{
		"klarna_access_token_ttl": next.KlarnaAccessTokenTTL, "klarna_refresh_token_ttl": next.KlarnaRefreshTokenTTL,
		"vipps_access_token_ttl": next.VippsAccessTokenTTL, "altpay_oauth_token_ttl": next.AltpayOAuthTokenTTL,
		"altpay_checkout_token_ttl": next.AltpayCheckoutTokenTTL,
	} {
		if d < Duration(time.Second) {
			return s, fmt.Errorf("%s must be at least 1s", name)
		}
	}
	if _, ok := VippsMSNCountries[next.VippsMSNCountry]; !ok {
		return s, fmt.Errorf("vipps_msn_country must be NO, DK or FI (the sales unit's country; it accepts NOK, DKK or EUR), got %q", next.VippsMSNCountry)
	}
	return next, nil
}

func settingNames(s Settings) []string {
	m := map[string]json.RawMessage{}
	b, _ := json.Marshal(s)
	_ = json.Unmarshal(b, &m)
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
