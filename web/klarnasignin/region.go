package klarnasignin

import (
	"strings"

	"refshop/web/market"
)

// RegionPath is where North America's issuer lives below Klarna's login
// host. Europe's issuer is the login host itself.
const RegionPath = "/na/lp/idp"

// Issuer is the OIDC issuer of a Klarna region below loginURL (the login
// host, KLARNA_LOGIN_URL), as Klarna's OpenID Connect page lists them:
// Europe https://login.klarna.com (test: https://login.playground.klarna.com),
// North America https://login.klarna.com/na/lp/idp (test:
// https://login.playground.klarna.com/na/lp/idp). Europe's discovery
// document names endpoints below /eu/lp/idp, but its issuer is the host.
// Any region but North America is Europe.
func Issuer(loginURL string, region market.Region) string {
	base := strings.TrimRight(loginURL, "/")
	if region == market.RegionNA {
		return base + RegionPath
	}
	return base
}
