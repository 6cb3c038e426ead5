package web

import (
	"strings"

	"refshop/web/altpay"
	"refshop/web/clock"
	"refshop/web/config"
	"refshop/web/klarna"
	"refshop/web/klarnasignin"
	"refshop/web/market"
	"refshop/web/vipps"
)

// WithProviderClients returns d with every provider client it lacks built
// from d.Config, d.HTTP, d.Clock and d.Log. Each client holds its provider's
// shared token (Vipps's access token, Alternative Payments' OAuth token,
// Klarna's discovery and keys), so there is one of each per process:
// cmd/shop builds them with this once and passes them in Deps; New calls it
// too, so a test leaves a client nil to get the configured one.
func WithProviderClients(d Deps) Deps {
	if d.Vipps == nil {
		v := d.Config.Vipps
		d.Vipps = vipps.New(vipps.Config{
			BaseURL: v.APIURL, ClientID: v.ClientID, ClientSecret: v.ClientSecret,
			SubscriptionKey: v.SubscriptionKey, MSN: v.MSN, System: vipps.DefaultSystem,
			HTTP: d.HTTP, Clock: d.Clock, Log: d.Log,
		})
	}
	if d.Klarna == nil {
		k := d.Config.Klarna
		d.Klarna = klarna.New(klarna.Config{BaseURL: k.APIURL, Username: k.Username, Password: k.Password, HTTP: d.HTTP, Log: d.Log})
	}
	if d.KlarnaNA == nil {
		// North America is a separate merchant account on its own host:
		// its own URL and credentials.
		na := d.Config.Klarna.NA
		d.KlarnaNA = klarna.New(klarna.Config{BaseURL: na.APIURL, Username: na.Username, Password: na.Password, HTTP: d.HTTP, Log: d.Log})
	}
	if d.KlarnaSignIn == nil {
		d.KlarnaSignIn = map[market.Region]*klarnasignin.Client{}
		for _, r := range klarnaSignInRegions {
			d.KlarnaSignIn[r] = klarnaSignInClient(d, r)
		}
	}
	if d.Altpay == nil {
		a := d.Config.Altpay
		d.Altpay = altpay.New(altpay.Config{
			BaseURL: a.APIURL, ClientID: a.ClientID, ClientSecret: a.ClientSecret,
			HTTP: d.HTTP, Clock: d.Clock, Log: d.Log,
		})
	}
	return d
}

// providerClock is the time of a provider in mode: the sandbox's clock when
// the provider is emulated (d.ProviderClock: in this process, or followed
// from a sandbox running apart), else the shop's.
func providerClock(d Deps, mode config.Mode) clock.Clock {
	if mode == config.Sandbox && d.ProviderClock != nil {
		return d.ProviderClock
	}
	return d.Clock
}

// environment names a provider environment by its base URL (a trailing slash
// aside). The shop keeps every stored provider id under the environment it
// was made in, and reads and sends only the ids of the environment it is
// configured with: a sandbox's ids never reach a real API.
func environment(baseURL string) string { return strings.TrimRight(baseURL, "/") }
