// Package config reads the shop's configuration from environment variables
// into one struct and validates it, naming the variable in every message.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"

	"refshop/web/secret"
)

// Mode says where a provider's calls go.
type Mode string

const (
	Sandbox Mode = "sandbox" // the embedded provider sandbox
	Real    Mode = "real"    // the provider's real test environment
)

// Config is everything the shop reads from its environment.
type Config struct {
	ShopAddr    string // SHOP_ADDR
	ShopBaseURL string // SHOP_BASE_URL, no trailing slash
	DataDir     string // SHOP_DATA_DIR
	SecretKey   []byte // SHOP_SECRET_KEY; nil: generated into DataDir
	SandboxAddr string // SANDBOX_ADDR; "" when off (or when SANDBOX_URL is set)
	// SandboxURL is the sandbox's origin: SANDBOX_URL when a sandbox runs
	// in another process (SandboxApart), else derived from SandboxAddr; ""
	// when there is no sandbox.
	SandboxURL string
	// SandboxApart is SANDBOX_URL being set: the providers are emulated by
	// a sandbox in another process (cmd/sandbox), which the shop reaches at
	// SandboxURL and whose clock it follows (web/sandboxclock).
	SandboxApart bool

	// ExchangeRetention is SHOP_EXCHANGE_RETENTION: how long the recorded
	// exchanges with providers (redacted) are kept before the background
	// prunes them.
	ExchangeRetention time.Duration

	// ClientIPHeader is SHOP_CLIENT_IP_HEADER: the header a proxy in front
	// of the shop names the client in (X-Forwarded-For or X-Real-Ip, in Go's
	// spelling); "" means the connection's peer is the client. Sign-in and
	// sign-up throttling key on the client address.
	ClientIPHeader string
	// TrustedProxies is SHOP_TRUSTED_PROXIES: the peers whose ClientIPHeader
	// is believed (loopback when the header is set and this is not).
	TrustedProxies []*net.IPNet

	// Admin is SHOP_ADMIN_EMAIL and SHOP_ADMIN_PASSWORD: the shop
	// administrator cmd/shop creates at start when no account has that
	// email. Zero when both are unset.
	Admin Admin

	Klarna Klarna
	Vipps  Vipps
	Altpay Altpay
}

// Admin is an administrator's sign-in.
type Admin struct {
	Email    string
	Password secret.Secret
}

// The shop's password rule, for sign-up and for administrators: bcrypt
// reads at most 72 bytes.
const (
	MinPassword = 10 // characters
	MaxPassword = 72 // bytes
)

// CheckAdmin checks an administrator's email and password against the
// shop's rules (an email address like name@example.com, a password of
// MinPassword characters to MaxPassword bytes). Its messages never quote
// the password.
func CheckAdmin(email, password string) (emailErr, passwordErr error) {
	if addr, err := mail.ParseAddress(email); err != nil || addr.Address != email || len(email) > 254 {
		emailErr = fmt.Errorf("want an email address like admin@example.com, got %q", email)
	}
	switch {
	case len([]rune(password)) < MinPassword:
		passwordErr = fmt.Errorf("use at least %d characters", MinPassword)
	case len(password) > MaxPassword:
		passwordErr = fmt.Errorf("use at most %d bytes", MaxPassword)
	}
	return emailErr, passwordErr
}

// Klarna is Klarna Payments (Basic auth) plus Sign in with Klarna (OIDC).
// Europe and North America are separate merchant accounts on separate hosts,
// so each region has its own API URL and credentials; the Sign in with
// Klarna client is one, below one login host with a path per region.
type Klarna struct {
	Mode         Mode
	APIURL       string // KLARNA_API_URL: Europe
	Username     string // KLARNA_USERNAME
	Password     secret.Secret
	NA           KlarnaRegion // KLARNA_NA_API_URL, KLARNA_NA_USERNAME, KLARNA_NA_PASSWORD
	LoginURL     string       // KLARNA_LOGIN_URL: the OIDC issuers' host
	ClientID     string       // KLARNA_CLIENT_ID
	ClientSecret secret.Secret
	// TokenAuth is KLARNA_TOKEN_AUTH: how the Sign in with Klarna client
	// authenticates at the token and revocation endpoints, the one method it
	// is registered with (TokenAuthBasic, the default, or TokenAuthPost).
	TokenAuth string
	SDKURL    string // KLARNA_SDK_URL
}

// KlarnaRegion is one more Klarna Payments merchant account: its API and
// credentials.
type KlarnaRegion struct {
	APIURL   string
	Username string
	Password secret.Secret
}

// Token endpoint authentication methods (OpenID Connect Core 9).
const (
	TokenAuthBasic = "client_secret_basic"
	TokenAuthPost  = "client_secret_post"
)

// Vipps is Vipps MobilePay's access token and ePayment APIs.
type Vipps struct {
	Mode            Mode
	APIURL          string // VIPPS_API_URL
	ClientID        string // VIPPS_CLIENT_ID
	ClientSecret    secret.Secret
	SubscriptionKey secret.Secret
	MSN             string // VIPPS_MSN
}

// Altpay is the Alternative Payments partner API.
type Altpay struct {
	Mode         Mode
	APIURL       string // ALTPAY_API_URL
	ClientID     string // ALTPAY_CLIENT_ID
	ClientSecret secret.Secret
}

// Sandbox defaults: the credentials the embedded sandbox accepts when the
// variables are unset. They are not secrets; cmd/shop prints them at start.
var Defaults = map[string]string{
	"SHOP_ADDR":               "localhost:8080",
	"SHOP_DATA_DIR":           "./data",
	"SANDBOX_ADDR":            "localhost:8081",
	"SHOP_EXCHANGE_RETENTION": "720h",
	"KLARNA_USERNAME":         "PK_sandbox_refshop",
	"KLARNA_PASSWORD":         "sandbox-klarna-api-key",
	"KLARNA_NA_USERNAME":      "PN_sandbox_refshop",
	"KLARNA_NA_PASSWORD":      "sandbox-klarna-na-api-key",
	"KLARNA_TOKEN_AUTH":       TokenAuthBasic,
	"KLARNA_CLIENT_ID":        "refshop-sandbox-client",
	"KLARNA_CLIENT_SECRET":    "sandbox-klarna-client-secret",
	"VIPPS_CLIENT_ID":         "5f1e2c3a-7b0d-4e8f-9a6b-2c4d6e8f0a1b",
	"VIPPS_CLIENT_SECRET":     "sandbox-vipps-client-secret==",
	"VIPPS_SUBSCRIPTION_KEY":  "0f14ebcab0ec4b29ae0cb90d91b4a84a",
	"VIPPS_MSN":               "123456",
	"ALTPAY_CLIENT_ID":        "refshop-sandbox-altpay",
	"ALTPAY_CLIENT_SECRET":    "sandbox-altpay-client-secret",
}

// Load reads the configuration through getenv (os.Getenv in main).
func Load(getenv func(string) string) (Config, error) {
	var errs []error
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return Defaults[name]
	}
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{name}, args...)...))
	}

	c := Config{ShopAddr: get("SHOP_ADDR"), DataDir: get("SHOP_DATA_DIR")}
	if err := checkAddr(c.ShopAddr); err != nil {
		bad("SHOP_ADDR", "%v", err)
	}
	c.ShopBaseURL = strings.TrimRight(get("SHOP_BASE_URL"), "/")
	if c.ShopBaseURL == "" {
		c.ShopBaseURL = "http://" + dialable(c.ShopAddr)
	}
	if err := checkOrigin(c.ShopBaseURL); err != nil {
		bad("SHOP_BASE_URL", "%v", err)
	}
	if k := get("SHOP_SECRET_KEY"); k != "" {
		key, err := secret.ParseKey(k)
		if err != nil {
			bad("SHOP_SECRET_KEY", "%v", err)
		}
		c.SecretKey = key
	}
	c.SandboxAddr, c.SandboxURL, c.SandboxApart = sandbox(getenv, c.ShopAddr, c.ShopBaseURL, bad)

	if d, err := time.ParseDuration(get("SHOP_EXCHANGE_RETENTION")); err != nil || d <= 0 {
		bad("SHOP_EXCHANGE_RETENTION", "want a positive Go duration such as 720h (30 days) or 168h, got %q", get("SHOP_EXCHANGE_RETENTION"))
	} else {
		c.ExchangeRetention = d
	}

	// The password is read as given (spaces count, as on the sign-up form).
	if email, password := get("SHOP_ADMIN_EMAIL"), getenv("SHOP_ADMIN_PASSWORD"); email != "" || password != "" {
		switch emailErr, passwordErr := CheckAdmin(email, password); {
		case email == "":
			bad("SHOP_ADMIN_EMAIL", "is required with SHOP_ADMIN_PASSWORD (set both, or neither)")
		case password == "":
			bad("SHOP_ADMIN_PASSWORD", "is required with SHOP_ADMIN_EMAIL (set both, or neither)")
		case emailErr != nil:
			bad("SHOP_ADMIN_EMAIL", "%v", emailErr)
		case passwordErr != nil:
			bad("SHOP_ADMIN_PASSWORD", "%v", passwordErr)
		default:
			c.Admin = Admin{Email: email, Password: secret.New(password)}
		}
	}

	c.ClientIPHeader, c.TrustedProxies = clientIP(get("SHOP_CLIENT_IP_HEADER"), get("SHOP_TRUSTED_PROXIES"), bad)

	// providerURL returns the variable's value (real mode) or the sandbox URL
	// below path (sandbox mode).
	providerURL := func(name, path string) (string, Mode) {
		v := strings.TrimRight(strings.TrimSpace(getenv(name)), "/")
		switch {
		case v != "" && c.SandboxApart:
			// DESIGN: SANDBOX_URL points every provider at that sandbox.
			// A provider quietly going real beside it would be a surprise.
			bad(name, "is set and so is SANDBOX_URL, which points every provider at the sandbox: unset %s "+
				"(sandbox mode), or unset SANDBOX_URL (then the providers left unset need SANDBOX_ADDR)", name)
		case v != "":
			if err := checkURL(v); err != nil {
				bad(name, "%v", err)
			}
			return v, Real
		case c.SandboxURL == "":
			bad(name, "is not set and SANDBOX_ADDR=off: set it to the provider's test environment, "+
				"turn the sandbox on, or set SANDBOX_URL to a sandbox running apart")
		}
		return c.SandboxURL + path, Sandbox
	}
	// required reads a credential; in real mode the sandbox defaults are not used.
	required := func(name string, mode Mode) string {
		v := strings.TrimSpace(getenv(name))
		if v == "" && mode == Sandbox {
			v = Defaults[name]
		}
		if v == "" {
			bad(name, "is required when the provider runs against its real environment")
		}
		return v
	}

	k := &c.Klarna
	k.APIURL, k.Mode = providerURL("KLARNA_API_URL", "/klarna/api")
	loginURL, loginMode := providerURL("KLARNA_LOGIN_URL", "/klarna/login")
	sdkURL, sdkMode := providerURL("KLARNA_SDK_URL", "/klarna/cdn/kp/lib/v1/api.js")
	if loginMode != k.Mode || sdkMode != k.Mode {
		bad("KLARNA_API_URL", "KLARNA_API_URL, KLARNA_LOGIN_URL and KLARNA_SDK_URL must be set together (all real) or all left unset (all sandbox)")
	}
	k.LoginURL, k.SDKURL = loginURL, sdkURL
	k.Username = required("KLARNA_USERNAME", k.Mode)
	k.Password = secret.New(required("KLARNA_PASSWORD", k.Mode))
	k.ClientID = required("KLARNA_CLIENT_ID", k.Mode)
	k.ClientSecret = secret.New(required("KLARNA_CLIENT_SECRET", k.Mode))
	naURL, naMode := providerURL("KLARNA_NA_API_URL", "/klarna/api-na")
	if naMode != k.Mode {
		bad("KLARNA_NA_API_URL", "must be set with KLARNA_API_URL (both real) or left unset with it (both sandbox)")
	}
	k.NA = KlarnaRegion{APIURL: naURL, Username: required("KLARNA_NA_USERNAME", k.Mode),
		Password: secret.New(required("KLARNA_NA_PASSWORD", k.Mode))}
	switch k.TokenAuth = get("KLARNA_TOKEN_AUTH"); k.TokenAuth {
	case TokenAuthBasic, TokenAuthPost:
	default:
		bad("KLARNA_TOKEN_AUTH", "want %s or %s (the method your Sign in with Klarna client is registered with), got %q",
			TokenAuthBasic, TokenAuthPost, k.TokenAuth)
	}

	v := &c.Vipps
	v.APIURL, v.Mode = providerURL("VIPPS_API_URL", "/vipps")
	v.ClientID = required("VIPPS_CLIENT_ID", v.Mode)
	v.ClientSecret = secret.New(required("VIPPS_CLIENT_SECRET", v.Mode))
	v.SubscriptionKey = secret.New(required("VIPPS_SUBSCRIPTION_KEY", v.Mode))
	v.MSN = required("VIPPS_MSN", v.Mode)
	if v.MSN != "" && !msnPattern.MatchString(v.MSN) {
		bad("VIPPS_MSN", "must be the merchant serial number, 4 to 7 digits, got %q", v.MSN)
	}

	// The real ePayment API only takes an https returnUrl (or an app's own
	// scheme); the sandbox also takes the shop's own http origin. Refuse the
	// setup that would pass the sandbox and fail the real thing.
	if v.Mode == Real && !strings.HasPrefix(c.ShopBaseURL, "https://") {
		bad("SHOP_BASE_URL", "must be https when VIPPS_API_URL points at Vipps: its returnUrl must be https (put the shop behind an https tunnel)")
	}

	a := &c.Altpay
	a.APIURL, a.Mode = providerURL("ALTPAY_API_URL", "/altpay")
	a.ClientID = required("ALTPAY_CLIENT_ID", a.Mode)
	a.ClientSecret = secret.New(required("ALTPAY_CLIENT_SECRET", a.Mode))

	return c, errors.Join(errs...)
}

// Warnings are what Load accepts but the shop should say at start: a setup
// that works for one process and breaks for several. Several shop instances
// must share one public base URL (the URLs in what they send a provider
// under one idempotency key are built from it), so one derived from each
// instance's own SHOP_ADDR is suspect when a sandbox runs apart, the likely
// reason being several instances.
func Warnings(getenv func(string) string, c Config) []string {
	var ws []string
	if c.SandboxApart && IsDefault(getenv, "SHOP_BASE_URL") {
		ws = append(ws, "SHOP_BASE_URL is not set, so it is derived from SHOP_ADDR ("+c.ShopBaseURL+"): "+
			"shop instances must share one public base URL (the origin browsers use, the proxy's when there is one); "+
			"set SHOP_BASE_URL, the same in every instance and in the sandbox")
	}
	return ws
}

// LoadSandbox reads the configuration of a sandbox running apart
// (cmd/sandbox): Load's, so given the shop's environment it accepts exactly
// the shop's credentials and knows the shop's origin (SHOP_BASE_URL, for its
// CORS and the return URLs it checks). It listens on SANDBOX_ADDR; SANDBOX_URL,
// when set, is the origin it is reached at (its hosted pages' URLs), as the
// shop reaches it there.
func LoadSandbox(getenv func(string) string) (Config, error) {
	if strings.TrimSpace(getenv("SANDBOX_ADDR")) == "off" {
		return Config{}, errors.New("SANDBOX_ADDR: is off, so the sandbox has nowhere to listen: " +
			"unset it (localhost:8081) or give it host:port (SANDBOX_ADDR=off is for the shop)")
	}
	origin := strings.TrimRight(strings.TrimSpace(getenv("SANDBOX_URL")), "/")
	c, err := Load(func(name string) string {
		if name == "SANDBOX_URL" {
			return "" // the sandbox is the one at that URL, not a shop using it
		}
		return getenv(name)
	})
	if origin != "" {
		if oerr := checkOrigin(origin); oerr != nil {
			err = errors.Join(err, fmt.Errorf("SANDBOX_URL: %v", oerr))
		} else {
			c.SandboxURL = origin
		}
	}
	return c, err
}

// sandbox reads SANDBOX_ADDR and SANDBOX_URL: the embedded sandbox's listen
// address and origin, or the origin of one running apart. The two are
// exclusive: an embedded sandbox beside a sandbox apart would split the
// providers' state (and clock) in two. SANDBOX_URL alone turns the embedded
// one off, so one variable is enough.
func sandbox(getenv func(string) string, shopAddr, shopBaseURL string, bad func(name, format string, args ...any)) (addr, origin string, apart bool) {
	if u := strings.TrimRight(strings.TrimSpace(getenv("SANDBOX_URL")), "/"); u != "" {
		if err := checkOrigin(u); err != nil {
			bad("SANDBOX_URL", "%v (the origin of a sandbox running apart, such as http://localhost:8081)", err)
		} else if u == shopBaseURL {
			bad("SANDBOX_URL", "must differ from SHOP_BASE_URL (%s): the sandbox is another origin, like the real providers", u)
		}
		if a := strings.TrimSpace(getenv("SANDBOX_ADDR")); a != "" && a != "off" {
			bad("SANDBOX_ADDR", "is %s and SANDBOX_URL is %s: choose one. SANDBOX_ADDR runs a sandbox in the shop's process; "+
				"SANDBOX_URL uses one running apart (go run ./cmd/sandbox): unset SANDBOX_ADDR (or set it to off) to use it", a, u)
		}
		return "", u, true
	}
	a := strings.TrimSpace(getenv("SANDBOX_ADDR"))
	if a == "" {
		a = Defaults["SANDBOX_ADDR"]
	}
	if a == "off" {
		return "", "", false
	}
	if err := checkAddr(a); err != nil {
		bad("SANDBOX_ADDR", "%v (or \"off\")", err)
	} else {
		addr, origin = a, "http://"+dialable(a)
	}
	if a == shopAddr {
		bad("SANDBOX_ADDR", "must differ from SHOP_ADDR (%s): the sandbox is another origin, like the real providers", a)
	}
	return addr, origin, false
}

// Client IP headers, in Go's canonical spelling.
const (
	XForwardedFor = "X-Forwarded-For"
	XRealIP       = "X-Real-Ip"
)

// loopback is whom a client IP header is believed from by default: a tunnel
// client or proxy on the same machine.
var loopback = []*net.IPNet{
	{IP: net.IPv4(127, 0, 0, 0), Mask: net.CIDRMask(8, 32)},
	{IP: net.IPv6loopback, Mask: net.CIDRMask(128, 128)},
}

// clientIP reads SHOP_CLIENT_IP_HEADER and SHOP_TRUSTED_PROXIES. A header
// anyone can send is only believed from the proxies named, so the proxies
// come with the header or not at all.
func clientIP(header, proxies string, bad func(name, format string, args ...any)) (string, []*net.IPNet) {
	if header == "" {
		if proxies != "" {
			bad("SHOP_TRUSTED_PROXIES", "needs SHOP_CLIENT_IP_HEADER (X-Forwarded-For or X-Real-IP): the header those proxies set")
		}
		return "", nil
	}
	canonical := http.CanonicalHeaderKey(header)
	if canonical != XForwardedFor && canonical != XRealIP {
		bad("SHOP_CLIENT_IP_HEADER", "want X-Forwarded-For or X-Real-IP (or unset: the connection's peer is the client), got %q", header)
		return "", nil
	}
	header = canonical
	if proxies == "" {
		return header, loopback
	}
	var nets []*net.IPNet
	for _, p := range strings.Split(proxies, ",") {
		p = strings.TrimSpace(p)
		cidr := p
		if ip := net.ParseIP(p); ip != nil && ip.To4() != nil {
			cidr += "/32" // one address
		} else if ip != nil {
			cidr += "/128"
		}
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			bad("SHOP_TRUSTED_PROXIES", "want addresses or CIDR ranges separated by commas (10.0.0.0/8,127.0.0.1), got %q", p)
			continue
		}
		nets = append(nets, n)
	}
	return header, nets
}

// msnPattern is the ePayment API's Merchant-Serial-Number: 4 to 7 digits in
// the current reference (older copies say 4 to 6; see web/sandbox/vipps/doc.go).
var msnPattern = regexp.MustCompile(`^[0-9]{4,7}$`)

// IsDefault reports whether the named variable holds the built-in sandbox
// default, so main may print it (a value the user chose is never printed).
func IsDefault(getenv func(string) string, name string) bool {
	return strings.TrimSpace(getenv(name)) == ""
}

func checkAddr(a string) error {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("want host:port such as localhost:8080, got %q", a)
	}
	if port == "" || strings.Trim(port, "0123456789") != "" {
		return fmt.Errorf("want a numeric port, got %q", a)
	}
	return nil
}

// dialable turns a listen address into one a browser can reach: ":8080" and
// "0.0.0.0:8080" become "localhost:8080".
func dialable(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("want an absolute http(s) URL, got %q", s)
	}
	return nil
}

func checkOrigin(s string) error {
	if err := checkURL(s); err != nil {
		return err
	}
	u, _ := url.Parse(s)
	if u.Path != "" || u.RawQuery != "" {
		return fmt.Errorf("want an origin such as http://localhost:8080 (no path), got %q", s)
	}
	return nil
}
