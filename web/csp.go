package web

import (
	"net/url"

	"refshop/web/config"
)

// newCSP allows exactly the provider origins the flows need, from the
// configured URLs, so the same policy works on the sandbox and on the real
// test environments:
//   - Klarna: the SDK script, and the widget it frames (on the real Klarna the
//     widget comes from klarna.com hosts, not the SDK's CDN host);
//   - Vipps: the landing page a checkout form's redirect lands on;
//   - Alternative Payments: the checkout API the invoice page's snippet calls.
func newCSP(cfg config.Config) cspPolicy {
	var p cspPolicy
	klarna := origin(cfg.Klarna.SDKURL)
	p.scriptSrc = append(p.scriptSrc, klarna)
	p.frameSrc = append(p.frameSrc, klarna)
	p.imgSrc = append(p.imgSrc, klarna)
	if cfg.Klarna.Mode == config.Real {
		p.frameSrc = append(p.frameSrc, "https://*.klarna.com", "https://*.klarnacdn.net")
		p.imgSrc = append(p.imgSrc, "https://*.klarnacdn.net")
	}
	vipps := origin(cfg.Vipps.APIURL)
	p.formAction = append(p.formAction, vipps)
	if cfg.Vipps.Mode == config.Real {
		for _, d := range vippsLandingDomains { // the hosts landingAllowed lets the shop redirect to
			p.formAction = append(p.formAction, "https://*."+d)
		}
	}
	// Sign in with Klarna: the sign-in forms redirect to the issuer's
	// authorize endpoint, and form-action governs a form's redirects too.
	p.formAction = append(p.formAction, origin(cfg.Klarna.LoginURL))
	p.connectSrc = append(p.connectSrc, origin(cfg.Altpay.APIURL))
	p.scriptSrc, p.frameSrc, p.imgSrc = dedupe(p.scriptSrc), dedupe(p.frameSrc), dedupe(p.imgSrc)
	p.formAction, p.connectSrc = dedupe(p.formAction), dedupe(p.connectSrc)
	return p
}

// origin is scheme://host[:port] of a URL, or "" when it has none.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
