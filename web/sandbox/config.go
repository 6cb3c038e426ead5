package sandbox

import (
	"refshop/web/config"
	"refshop/web/sandbox/control"
)

// ConfigFrom provisions the sandbox with exactly the credentials the shop is
// configured with; providers in real mode are not emulated.
func ConfigFrom(c config.Config) control.Config {
	return control.Config{
		BaseURL:     c.SandboxURL,
		ShopBaseURL: c.ShopBaseURL,
		DataDir:     c.DataDir,
		Klarna: control.KlarnaConfig{
			Enabled:  c.Klarna.Mode == config.Sandbox,
			Username: c.Klarna.Username, Password: c.Klarna.Password.Reveal(),
			NAUsername: c.Klarna.NA.Username, NAPassword: c.Klarna.NA.Password.Reveal(),
			ClientID: c.Klarna.ClientID, ClientSecret: c.Klarna.ClientSecret.Reveal(),
			TokenAuth: c.Klarna.TokenAuth,
		},
		Vipps: control.VippsConfig{
			Enabled:  c.Vipps.Mode == config.Sandbox,
			ClientID: c.Vipps.ClientID, ClientSecret: c.Vipps.ClientSecret.Reveal(),
			SubscriptionKey: c.Vipps.SubscriptionKey.Reveal(), MSN: c.Vipps.MSN,
		},
		Altpay: control.AltpayConfig{
			Enabled:  c.Altpay.Mode == config.Sandbox,
			ClientID: c.Altpay.ClientID, ClientSecret: c.Altpay.ClientSecret.Reveal(),
		},
	}
}
