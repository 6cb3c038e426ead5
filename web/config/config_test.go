package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsRunEverythingOnTheSandbox(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ShopAddr != "localhost:8080" || c.ShopBaseURL != "http://localhost:8080" || c.DataDir != "./data" {
		t.Fatalf("shop defaults: %+v", c)
	}
	if c.SandboxURL != "http://localhost:8081" {
		t.Fatalf("sandbox URL = %q", c.SandboxURL)
	}
	for name, got := range map[string]string{
		"klarna api": c.Klarna.APIURL, "klarna login": c.Klarna.LoginURL, "klarna sdk": c.Klarna.SDKURL,
		"vipps": c.Vipps.APIURL, "altpay": c.Altpay.APIURL,
	} {
		if !strings.HasPrefix(got, "http://localhost:8081/") {
			t.Errorf("%s URL %q is not on the sandbox", name, got)
		}
	}
	if c.Klarna.Mode != Sandbox || c.Vipps.Mode != Sandbox || c.Altpay.Mode != Sandbox {
		t.Fatal("providers not in sandbox mode")
	}
	if c.Vipps.SubscriptionKey.Reveal() != Defaults["VIPPS_SUBSCRIPTION_KEY"] {
		t.Fatal("sandbox credentials not defaulted")
	}
	// North America is its own merchant account below its own sandbox path.
	if c.Klarna.NA.APIURL != "http://localhost:8081/klarna/api-na" || c.Klarna.NA.Username == c.Klarna.Username ||
		c.Klarna.NA.Password.Reveal() == c.Klarna.Password.Reveal() {
		t.Fatalf("klarna NA = %+v", c.Klarna.NA)
	}
	if c.Klarna.TokenAuth != TokenAuthBasic {
		t.Fatalf("KLARNA_TOKEN_AUTH defaults to %q, want %s", c.Klarna.TokenAuth, TokenAuthBasic)
	}
	if c, err := Load(env(map[string]string{"KLARNA_TOKEN_AUTH": "client_secret_post"})); err != nil || c.Klarna.TokenAuth != TokenAuthPost {
		t.Fatalf("client_secret_post: %v %q", err, c.Klarna.TokenAuth)
	}
}

func TestRealModeNeedsCredentials(t *testing.T) {
	_, err := Load(env(map[string]string{"VIPPS_API_URL": "https://apitest.vipps.no"}))
	if err == nil {
		t.Fatal("real Vipps without credentials was accepted")
	}
	for _, name := range []string{"VIPPS_CLIENT_ID", "VIPPS_CLIENT_SECRET", "VIPPS_SUBSCRIPTION_KEY", "VIPPS_MSN"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	real := map[string]string{"VIPPS_API_URL": "https://apitest.vipps.no/", "VIPPS_CLIENT_ID": "id",
		"VIPPS_CLIENT_SECRET": "s", "VIPPS_SUBSCRIPTION_KEY": "k", "VIPPS_MSN": "654321"}
	if _, err := Load(env(real)); err == nil || !strings.Contains(err.Error(), "SHOP_BASE_URL") {
		t.Fatalf("real Vipps with an http shop: %v, want an error naming SHOP_BASE_URL", err)
	}
	real["SHOP_BASE_URL"] = "https://shop.example"
	c, err := Load(env(real))
	if err != nil {
		t.Fatal(err)
	}
	if c.Vipps.Mode != Real || c.Vipps.APIURL != "https://apitest.vipps.no" || c.Klarna.Mode != Sandbox {
		t.Fatalf("mixed modes: %+v %+v", c.Vipps, c.Klarna)
	}
}

func TestValidationNamesTheVariable(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"bad shop addr":       {map[string]string{"SHOP_ADDR": "8080"}, "SHOP_ADDR"},
		"bad base url":        {map[string]string{"SHOP_BASE_URL": "localhost:8080"}, "SHOP_BASE_URL"},
		"base url with path":  {map[string]string{"SHOP_BASE_URL": "http://localhost:8080/shop"}, "SHOP_BASE_URL"},
		"bad secret key":      {map[string]string{"SHOP_SECRET_KEY": "tooshort"}, "SHOP_SECRET_KEY"},
		"same ports":          {map[string]string{"SHOP_ADDR": "localhost:9000", "SANDBOX_ADDR": "localhost:9000"}, "SANDBOX_ADDR"},
		"bad msn":             {map[string]string{"VIPPS_MSN": "12ab"}, "VIPPS_MSN"},
		"msn too long":        {map[string]string{"VIPPS_MSN": "12345678"}, "VIPPS_MSN"},
		"bad provider url":    {map[string]string{"ALTPAY_API_URL": "ftp://x"}, "ALTPAY_API_URL"},
		"sandbox off, no url": {map[string]string{"SANDBOX_ADDR": "off"}, "KLARNA_API_URL"},
		"klarna half real":    {map[string]string{"KLARNA_API_URL": "https://api.playground.klarna.com", "KLARNA_USERNAME": "u", "KLARNA_PASSWORD": "p", "KLARNA_CLIENT_ID": "c", "KLARNA_CLIENT_SECRET": "s"}, "KLARNA_SDK_URL"},
		"klarna na half real": {map[string]string{"KLARNA_NA_API_URL": "https://api-na.playground.klarna.com"}, "KLARNA_NA_API_URL"},
		"klarna na no creds":  {map[string]string{"KLARNA_API_URL": "https://api.playground.klarna.com", "KLARNA_NA_API_URL": "https://api-na.playground.klarna.com", "KLARNA_LOGIN_URL": "https://login.playground.klarna.com", "KLARNA_SDK_URL": "https://x.klarnacdn.net/kp/lib/v1/api.js", "KLARNA_USERNAME": "u", "KLARNA_PASSWORD": "p", "KLARNA_CLIENT_ID": "c", "KLARNA_CLIENT_SECRET": "s"}, "KLARNA_NA_USERNAME"},
		"bad token auth":      {map[string]string{"KLARNA_TOKEN_AUTH": "private_key_jwt"}, "KLARNA_TOKEN_AUTH"},
		"bad retention":       {map[string]string{"SHOP_EXCHANGE_RETENTION": "30d"}, "SHOP_EXCHANGE_RETENTION"},
		"no retention":        {map[string]string{"SHOP_EXCHANGE_RETENTION": "0s"}, "SHOP_EXCHANGE_RETENTION"},
		"negative retention":  {map[string]string{"SHOP_EXCHANGE_RETENTION": "-1h"}, "SHOP_EXCHANGE_RETENTION"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(env(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestExchangeRetention(t *testing.T) {
	if c, err := Load(env(nil)); err != nil || c.ExchangeRetention != 30*24*time.Hour {
		t.Fatalf("default retention %v, %v; want 30 days", c.ExchangeRetention, err)
	}
	if c, err := Load(env(map[string]string{"SHOP_EXCHANGE_RETENTION": "168h"})); err != nil || c.ExchangeRetention != 7*24*time.Hour {
		t.Fatalf("168h: %v, %v", c.ExchangeRetention, err)
	}
}

func TestSecretKeyAndListenAddresses(t *testing.T) {
	c, err := Load(env(map[string]string{"SHOP_SECRET_KEY": strings.Repeat("0f", 32), "SHOP_ADDR": ":9090", "SANDBOX_ADDR": "0.0.0.0:9091"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.SecretKey) != 32 || c.ShopBaseURL != "http://localhost:9090" || c.SandboxURL != "http://localhost:9091" {
		t.Fatalf("got key %d bytes, base %q, sandbox %q", len(c.SecretKey), c.ShopBaseURL, c.SandboxURL)
	}
}

func TestSecretsDoNotPrint(t *testing.T) {
	c, _ := Load(env(nil))
	if s := strings.Join([]string{c.Vipps.ClientSecret.String(), c.Klarna.Password.String()}, ","); strings.Contains(s, "sandbox") {
		t.Fatalf("secrets print themselves: %s", s)
	}
}

func TestClientIPHeaderAndTrustedProxies(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil || c.ClientIPHeader != "" || c.TrustedProxies != nil {
		t.Fatalf("default: header %q, proxies %v, %v; want the peer address and no proxies", c.ClientIPHeader, c.TrustedProxies, err)
	}
	c, err = Load(env(map[string]string{"SHOP_CLIENT_IP_HEADER": "x-forwarded-for"}))
	if err != nil || c.ClientIPHeader != XForwardedFor || fmt.Sprint(c.TrustedProxies) != "[127.0.0.0/8 ::1/128]" {
		t.Fatalf("header alone: %q %v %v; want X-Forwarded-For from loopback", c.ClientIPHeader, c.TrustedProxies, err)
	}
	c, err = Load(env(map[string]string{"SHOP_CLIENT_IP_HEADER": "X-Real-IP", "SHOP_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7,2001:db8::1"}))
	if err != nil || c.ClientIPHeader != XRealIP || fmt.Sprint(c.TrustedProxies) != "[10.0.0.0/8 192.0.2.7/32 2001:db8::1/128]" {
		t.Fatalf("header and proxies: %q %v %v", c.ClientIPHeader, c.TrustedProxies, err)
	}
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"unknown header":       {map[string]string{"SHOP_CLIENT_IP_HEADER": "Forwarded"}, `SHOP_CLIENT_IP_HEADER: want X-Forwarded-For or X-Real-IP (or unset: the connection's peer is the client), got "Forwarded"`},
		"proxies, no header":   {map[string]string{"SHOP_TRUSTED_PROXIES": "10.0.0.0/8"}, "SHOP_TRUSTED_PROXIES: needs SHOP_CLIENT_IP_HEADER"},
		"bad range":            {map[string]string{"SHOP_CLIENT_IP_HEADER": "X-Forwarded-For", "SHOP_TRUSTED_PROXIES": "10.0.0.0/8,10.0.0.300"}, `got "10.0.0.300"`},
		"empty item in ranges": {map[string]string{"SHOP_CLIENT_IP_HEADER": "X-Forwarded-For", "SHOP_TRUSTED_PROXIES": "10.0.0.0/8,"}, `SHOP_TRUSTED_PROXIES: want addresses or CIDR ranges`},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Load(env(tc.env)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestAdminFromTheEnvironment(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil || c.Admin != (Admin{}) {
		t.Fatalf("no admin variables: %+v, %v", c.Admin, err)
	}
	c, err = Load(env(map[string]string{"SHOP_ADMIN_EMAIL": "boss@example.com", "SHOP_ADMIN_PASSWORD": " long enough "}))
	if err != nil || c.Admin.Email != "boss@example.com" || c.Admin.Password.Reveal() != " long enough " {
		t.Fatalf("admin: %+v, %v", c.Admin, err)
	}
	for _, tc := range []struct {
		email, password, want string
	}{
		{"boss@example.com", "", "SHOP_ADMIN_PASSWORD: is required"},
		{"", "long enough password", "SHOP_ADMIN_EMAIL: is required"},
		{"not an email", "long enough password", "SHOP_ADMIN_EMAIL: want an email address"},
		{"boss@example.com", "short-pw", "SHOP_ADMIN_PASSWORD: use at least 10 characters"},
		{"boss@example.com", strings.Repeat("x", 73), "SHOP_ADMIN_PASSWORD: use at most 72 bytes"},
	} {
		_, err := Load(env(map[string]string{"SHOP_ADMIN_EMAIL": tc.email, "SHOP_ADMIN_PASSWORD": tc.password}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q / %d characters: %v, want %q", tc.email, len(tc.password), err, tc.want)
		}
		if tc.password != "" && err != nil && strings.Contains(err.Error(), tc.password) {
			t.Errorf("the message quotes the password: %v", err)
		}
	}
}

func TestSandboxURLPointsEveryProviderAtASandboxApart(t *testing.T) {
	for _, e := range []map[string]string{
		{"SANDBOX_URL": "http://localhost:8081"},
		{"SANDBOX_URL": "http://localhost:8081/", "SANDBOX_ADDR": "off"},
	} {
		c, err := Load(env(e))
		if err != nil {
			t.Fatalf("%v: %v", e, err)
		}
		if c.SandboxAddr != "" || c.SandboxURL != "http://localhost:8081" || !c.SandboxApart {
			t.Fatalf("%v: addr %q, url %q, apart %v; want no embedded sandbox and the one apart", e, c.SandboxAddr, c.SandboxURL, c.SandboxApart)
		}
		embedded, _ := Load(env(nil)) // the same URL map as the embedded sandbox on localhost:8081
		for name, got := range map[string][2]string{
			"KLARNA_API_URL":    {c.Klarna.APIURL, embedded.Klarna.APIURL},
			"KLARNA_NA_API_URL": {c.Klarna.NA.APIURL, embedded.Klarna.NA.APIURL},
			"KLARNA_LOGIN_URL":  {c.Klarna.LoginURL, embedded.Klarna.LoginURL},
			"KLARNA_SDK_URL":    {c.Klarna.SDKURL, embedded.Klarna.SDKURL},
			"VIPPS_API_URL":     {c.Vipps.APIURL, embedded.Vipps.APIURL},
			"ALTPAY_API_URL":    {c.Altpay.APIURL, embedded.Altpay.APIURL},
		} {
			if got[0] != got[1] {
				t.Errorf("%s = %q, want %q as with the embedded sandbox", name, got[0], got[1])
			}
		}
		if c.Klarna.Mode != Sandbox || c.Vipps.Mode != Sandbox || c.Altpay.Mode != Sandbox {
			t.Fatalf("modes %s %s %s, want every provider in sandbox mode", c.Klarna.Mode, c.Vipps.Mode, c.Altpay.Mode)
		}
		if c.Vipps.ClientSecret.Reveal() != Defaults["VIPPS_CLIENT_SECRET"] || c.Klarna.Username != Defaults["KLARNA_USERNAME"] {
			t.Fatal("the sandbox credentials are not defaulted")
		}
	}
	// Sandbox mode keeps the sandbox's leniencies: an http shop origin with
	// Vipps, credentials of one's own without a provider URL.
	c, err := Load(env(map[string]string{"SANDBOX_URL": "http://sandbox.internal:9000", "SHOP_BASE_URL": "http://shop.internal:8000",
		"VIPPS_CLIENT_SECRET": "my-own-secret"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Vipps.Mode != Sandbox || c.Vipps.APIURL != "http://sandbox.internal:9000/vipps" || c.Vipps.ClientSecret.Reveal() != "my-own-secret" {
		t.Fatalf("vipps %s %q", c.Vipps.Mode, c.Vipps.APIURL)
	}
}

func TestSandboxURLRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want []string
	}{
		"and an embedded sandbox": {map[string]string{"SANDBOX_URL": "http://localhost:8081", "SANDBOX_ADDR": "localhost:9091"},
			[]string{"SANDBOX_ADDR: is localhost:9091 and SANDBOX_URL is http://localhost:8081: choose one", "unset SANDBOX_ADDR (or set it to off)"}},
		"not a URL":      {map[string]string{"SANDBOX_URL": "localhost:8081"}, []string{"SANDBOX_URL: want an absolute http(s) URL"}},
		"not http":       {map[string]string{"SANDBOX_URL": "ftp://localhost:8081"}, []string{"SANDBOX_URL: want an absolute http(s) URL"}},
		"with a path":    {map[string]string{"SANDBOX_URL": "http://localhost:8081/vipps"}, []string{"SANDBOX_URL: want an origin"}},
		"the shop's own": {map[string]string{"SANDBOX_URL": "http://localhost:8080"}, []string{"SANDBOX_URL: must differ from SHOP_BASE_URL"}},
		"off and no URL": {map[string]string{"SANDBOX_ADDR": "off"}, []string{"KLARNA_API_URL: is not set and SANDBOX_ADDR=off", "or set SANDBOX_URL to a sandbox running apart"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Load(env(tc.env))
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("got %v, want an error containing %q", err, w)
				}
			}
		})
	}
	// A provider URL of its own beside SANDBOX_URL is refused, naming both.
	for _, name := range []string{"KLARNA_API_URL", "KLARNA_NA_API_URL", "KLARNA_LOGIN_URL", "KLARNA_SDK_URL", "VIPPS_API_URL", "ALTPAY_API_URL"} {
		_, err := Load(env(map[string]string{"SANDBOX_URL": "http://localhost:8081", name: "https://provider.example"}))
		want := name + ": is set and so is SANDBOX_URL, which points every provider at the sandbox: unset " + name
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s with SANDBOX_URL: %v, want %q", name, err, want)
		}
	}
}

func TestLoadSandboxForASandboxApart(t *testing.T) {
	c, err := LoadSandbox(env(nil))
	if err != nil || c.SandboxAddr != "localhost:8081" || c.SandboxURL != "http://localhost:8081" || c.ShopBaseURL != "http://localhost:8080" {
		t.Fatalf("defaults: addr %q url %q shop %q, %v", c.SandboxAddr, c.SandboxURL, c.ShopBaseURL, err)
	}
	// Given the shop's environment, the sandbox listens on SANDBOX_ADDR, is
	// reached at SANDBOX_URL, and accepts the shop's credentials.
	shopEnv := map[string]string{"SANDBOX_URL": "http://sandbox.internal:9000", "SHOP_BASE_URL": "http://shop.internal:8000",
		"VIPPS_CLIENT_SECRET": "my-own-secret", "KLARNA_PASSWORD": "my-klarna-key", "ALTPAY_CLIENT_ID": "my-altpay"}
	shop, err := Load(env(shopEnv))
	if err != nil {
		t.Fatal(err)
	}
	sbEnv := map[string]string{"SANDBOX_ADDR": "0.0.0.0:9000"}
	for k, v := range shopEnv {
		sbEnv[k] = v
	}
	sb, err := LoadSandbox(env(sbEnv))
	if err != nil {
		t.Fatal(err)
	}
	if sb.SandboxAddr != "0.0.0.0:9000" || sb.SandboxURL != shop.SandboxURL || sb.ShopBaseURL != shop.ShopBaseURL {
		t.Fatalf("sandbox addr %q url %q shop %q", sb.SandboxAddr, sb.SandboxURL, sb.ShopBaseURL)
	}
	if sb.Vipps.Mode != Sandbox || sb.Vipps.ClientSecret.Reveal() != "my-own-secret" || sb.Klarna.Password.Reveal() != "my-klarna-key" ||
		sb.Altpay.ClientID != "my-altpay" || sb.Vipps.ClientID != shop.Vipps.ClientID {
		t.Fatal("the sandbox does not take the shop's credentials")
	}
	if _, err := LoadSandbox(env(map[string]string{"SANDBOX_ADDR": "off", "SANDBOX_URL": "http://localhost:8081"})); err == nil ||
		err.Error() != "SANDBOX_ADDR: is off, so the sandbox has nowhere to listen: unset it (localhost:8081) or give it host:port (SANDBOX_ADDR=off is for the shop)" {
		t.Fatalf("SANDBOX_ADDR=off: %v", err)
	}
	if _, err := LoadSandbox(env(map[string]string{"SANDBOX_URL": "http://localhost:8081/x"})); err == nil || !strings.Contains(err.Error(), "SANDBOX_URL: want an origin") {
		t.Fatalf("bad SANDBOX_URL: %v", err)
	}
}

func TestWarningsAskInstancesToShareOneBaseURL(t *testing.T) {
	for name, tc := range map[string]struct {
		env  map[string]string
		want int
	}{
		"embedded sandbox":            {nil, 0},
		"sandbox apart, derived":      {map[string]string{"SANDBOX_URL": "http://localhost:8081", "SHOP_ADDR": "localhost:8082"}, 1},
		"sandbox apart, base url set": {map[string]string{"SANDBOX_URL": "http://localhost:8081", "SHOP_BASE_URL": "http://localhost:8000"}, 0},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Load(env(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			ws := Warnings(env(tc.env), c)
			if len(ws) != tc.want {
				t.Fatalf("%d warnings %q, want %d", len(ws), ws, tc.want)
			}
			if tc.want == 1 && (!strings.Contains(ws[0], "SHOP_BASE_URL is not set, so it is derived from SHOP_ADDR (http://localhost:8082)") ||
				!strings.Contains(ws[0], "shop instances must share one public base URL")) {
				t.Fatalf("warning %q", ws[0])
			}
		})
	}
}
