package redact

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"refshop/web/secret"
)

// Secrets of every kind the shop's exchanges carry, made up for the tests.
const (
	bearer        = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ2aXBwcyJ9.c2lnbmF0dXJlLXZpcHBzLXRva2Vu" // a Vipps access token (JWT)
	opaqueBearer  = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"       // Alternative Payments' OAuth token (hex)
	basicPassword = "klarna-api-password-QWERTY"
	subscription  = "0f14ebcab0ec4b29ae0cb90d91b4a84a"
	clientSecret  = "client-secret-ZXCVBNM-98765"
	refreshToken  = "ory_rt_Qm9ZcGx1c0lzTm90QVJlYWxUb2tlbg"
	accessToken   = "ory_at_U2lnbkluV2l0aEtsYXJuYUFjY2Vzcw"
	idToken       = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJrbGFybmEifQ.aWQtdG9rZW4tc2lnbmF0dXJl"
	authCode      = "ory_ac_QXV0aG9yaXphdGlvbkNvZGVYWVo"
	codeVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	customerToken = "krn:partner:global:playground:identity:customer-token:N5WHTVJ6PMAXD3LQ"
	klarnaAccess  = "klarna-access-token-value-PLMOKN"
	clientToken   = "eyJhbGciOiJSUzI1NiJ9.eyJzZXNzaW9uIjoiY2xpZW50In0.Y2xpZW50LXRva2VuLXNpZw"
	authorization = "b4bd3423-24e3-4aed-8a83-c1b4b7a1d1f6"
	tokenID       = "a3a2e2d8-a9c0-4cc4-93a4-2b2fb2c0c0e4"
	checkoutJWT   = "eyJhbGciOiJIUzI1NiJ9.eyJpbnZvaWNlIjoiaW52XzEyMyJ9.Y2hlY2tvdXQtand0LXNpZw"
	landingToken  = "LandingTokenOpaqueABCDEFGH12345"
	cookieValue   = "session-cookie-value-IJKLMNOP"
	revokeToken   = "revocable-refresh-token-RSTUVW"
)

// gone fails the test when any of secrets, or any 8 characters of one in a
// row, appears in out.
func gone(t *testing.T, out string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("%q survives in:\n%s", s, out)
			continue
		}
		// A Klarna customer token's documented prefix is not the secret.
		if _, rest, ok := strings.Cut(s, "customer-token:"); ok {
			s = rest
		}
		for i := 0; i+8 <= len(s); i++ {
			if strings.Contains(out, s[i:i+8]) {
				t.Errorf("%q (8 characters of %q) survives in:\n%s", s[i:i+8], s, out)
				break
			}
		}
	}
}

func dump(x Exchange) string {
	return fmt.Sprintf("%s %s\n%v\n%s\n%v\n%s", x.Method, x.URL, x.ReqHeader, x.ReqBody, x.RespHeader, x.RespBody)
}

func TestHeaders(t *testing.T) {
	x := Redact("vipps", Exchange{
		Method: "POST", URL: "https://apitest.vipps.no/epayment/v1/payments",
		ReqHeader: http.Header{
			"Authorization":             {"Bearer " + bearer},
			"Ocp-Apim-Subscription-Key": {subscription},
			"Client_secret":             {clientSecret},
			"Client_id":                 {"5f1e2c3a-7b0d-4e8f-9a6b-2c4d6e8f0a1b"},
			"Cookie":                    {"a=" + cookieValue + "; b=" + cookieValue + "2"},
			"Idempotency-Key":           {"refshop-12-create"},
		},
		RespHeader: http.Header{
			"Set-Cookie": {"sid=" + cookieValue + "; Path=/; HttpOnly"},
			"Location":   {"https://landing.vipps.no/?token=" + landingToken + "&lang=no"},
		},
	})
	gone(t, dump(x), bearer, subscription, clientSecret, cookieValue, landingToken)
	h := x.ReqHeader
	if got, want := h.Get("Authorization"), "Bearer "+Mark(bearer); got != want {
		t.Errorf("Authorization %q, want %q", got, want)
	}
	if h.Get("Client_id") != "5f1e2c3a-7b0d-4e8f-9a6b-2c4d6e8f0a1b" || h.Get("Idempotency-Key") != "refshop-12-create" {
		t.Errorf("client_id and Idempotency-Key are not secrets and are kept: %v", h)
	}
	if got := x.RespHeader.Get("Set-Cookie"); got != "sid="+Mark(cookieValue)+"; Path=/; HttpOnly" {
		t.Errorf("Set-Cookie %q", got)
	}
	if got := x.RespHeader.Get("Location"); got != "https://landing.vipps.no/?token="+Mark(landingToken)+"&lang=no" {
		t.Errorf("Location %q", got)
	}

	// Klarna's Basic auth: the credential part is tagged, the scheme kept.
	req, _ := http.NewRequest("GET", "https://api.playground.klarna.com/", nil)
	req.SetBasicAuth("PK_sandbox_refshop", basicPassword)
	x = Redact("klarna", Exchange{Method: "GET", URL: req.URL.String(), ReqHeader: req.Header})
	if got := x.ReqHeader.Get("Authorization"); !strings.HasPrefix(got, "Basic [redacted ") {
		t.Errorf("Basic: %q", got)
	}
	gone(t, dump(x), basicPassword, strings.TrimPrefix(req.Header.Get("Authorization"), "Basic "))
}

func TestJSONBodiesNested(t *testing.T) {
	reqBody := `{"purchase_country":"SE","customer":{"klarna_access_token":"` + klarnaAccess + `","customer_token":"` + customerToken + `"},` +
		`"order_lines":[{"name":"Mug","quantity":2}],"authorization_token":"` + authorization + `"}`
	respBody := `{"session_id":"sess-1","client_token":"` + clientToken + `","tokens":[{"token":"` + checkoutJWT + `"},{"token_id":"` + tokenID + `"}],` +
		`"oauth":{"access_token":"` + opaqueBearer + `","refresh_token":"` + refreshToken + `","id_token":"` + idToken + `","expires_in":3600},` +
		`"redirectUrl":"https://landing.vipps.no/?token=` + landingToken + `","note":"ours: ` + accessToken + `","code":"invalid_grant","empty":""}`
	json := http.Header{"Content-Type": {"application/json"}}
	x := Redact("klarna", Exchange{Method: "POST", URL: "https://x/payments/v1/sessions",
		ReqHeader: json, ReqBody: []byte(reqBody), RespHeader: json, RespBody: []byte(respBody)})
	gone(t, dump(x), klarnaAccess, customerToken, authorization, clientToken, checkoutJWT, tokenID, opaqueBearer,
		refreshToken, idToken, landingToken, accessToken)
	for _, keep := range []string{`"purchase_country":"SE"`, `"order_lines":[{"name":"Mug","quantity":2}]`, `"session_id":"sess-1"`,
		`"expires_in":3600`, `"code":"invalid_grant"`, `"empty":""`, `"client_token":"` + Mark(clientToken) + `"`} {
		if !strings.Contains(dump(x), keep) {
			t.Errorf("lacks %s:\n%s", keep, dump(x))
		}
	}
	// The fields keep their order.
	if s := string(x.ReqBody); strings.Index(s, "purchase_country") > strings.Index(s, "customer") ||
		strings.Index(s, "order_lines") > strings.Index(s, "authorization_token") {
		t.Errorf("order changed: %s", s)
	}
}

// Unknown JSON is kept byte for byte, spacing and escapes included.
func TestUnknownJSONStaysAsIs(t *testing.T) {
	body := "{\n  \"b\": 1,\"a\":[true, false,null,1.50e3,\"x<y&z \\\"q\\\" \\u00e9\"],\n  \"nested\":{\"deep\":{\"deeper\":\"value\"}}}"
	x := Redact("altpay", Exchange{RespHeader: http.Header{"Content-Type": {"application/json; charset=utf-8"}}, RespBody: []byte(body)})
	if string(x.RespBody) != body {
		t.Errorf("got  %s\nwant %s", x.RespBody, body)
	}
}

func TestFormBodies(t *testing.T) {
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	for _, body := range []string{
		"grant_type=authorization_code&code=" + authCode + "&code_verifier=" + codeVerifier +
			"&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fauth%2Fklarna%2Fcallback&client_id=refshop&client_secret=" + clientSecret,
		"grant_type=refresh_token&refresh_token=" + refreshToken,
		"token=" + revokeToken + "&token_type_hint=refresh_token",
		"grant_type=client_credentials&extra=" + strings.ReplaceAll(customerToken, ":", "%3A"),
	} {
		x := Redact("klarna", Exchange{Method: "POST", URL: "https://x/oauth2/token", ReqHeader: form, ReqBody: []byte(body)})
		gone(t, dump(x), authCode, codeVerifier, clientSecret, refreshToken, revokeToken, customerToken)
		if kept := strings.Contains(string(x.ReqBody), "grant_type=") || strings.Contains(string(x.ReqBody), "token_type_hint="); !kept ||
			strings.Contains(body, "client_id") && !strings.Contains(string(x.ReqBody), "client_id=refshop") {
			t.Errorf("non-secret fields lost: %s", x.ReqBody)
		}
	}
}

func TestURLs(t *testing.T) {
	cases := []struct {
		provider, url, template string
		secrets                 []string
		keep                    string
	}{
		{"klarna", "http://127.0.0.1:8081/klarna/api/payments/v1/authorizations/" + authorization + "/order",
			"/payments/v1/authorizations/{authorization_token}/order", []string{authorization}, "/klarna/api/payments/v1/authorizations/[redacted "},
		{"klarna", "https://api.klarna.com/customer-token/v1/tokens/" + tokenID + "/status",
			"/customer-token/v1/tokens/{customer_token}/status", []string{tokenID}, "/status"},
		{"klarna", "https://api.klarna.com/payments/v1/sessions/sess-42", "/payments/v1/sessions/{session_id}", nil, "/sessions/sess-42"},
		// No template, or another one: the shapes are still found.
		{"klarna", "https://api.klarna.com/x/" + customerToken + "/y", "", []string{customerToken}, "/y"},
		{"klarna", "https://api.klarna.com/x/" + customerToken, "/other/{id}", []string{customerToken}, "/x/"},
		{"vipps", "https://landing.vipps.no/?token=" + landingToken + "&ref=abc", "", []string{landingToken}, "ref=abc"},
		{"klarna", "https://login.klarna.com/cb?code=" + authCode + "&state=s1#access_token=" + accessToken, "", []string{authCode, accessToken}, "state=s1"},
		{"altpay", "https://user:" + clientSecret + "@api.example/x?id_token_hint=" + idToken, "", []string{clientSecret, idToken}, "https://user:"},
	}
	for _, c := range cases {
		x := Redact(c.provider, Exchange{Method: "GET", URL: c.url, PathTemplate: c.template})
		gone(t, x.URL, c.secrets...)
		if !strings.Contains(x.URL, c.keep) {
			t.Errorf("%s: %q lacks %q", c.url, x.URL, c.keep)
		}
	}
}

// A body that claims to be JSON and does not parse (here: cut short) is kept
// as text; named fields are still found by pattern and shapes tagged.
func TestInvalidJSONAndText(t *testing.T) {
	cut := `{"access_token":"` + opaqueBearer + `","refresh_token":"` + refreshToken + `","note":"x","id_tok`
	x := Redact("altpay", Exchange{RespHeader: http.Header{"Content-Type": {"application/json"}}, RespBody: []byte(cut)})
	gone(t, string(x.RespBody), opaqueBearer, refreshToken)
	if !strings.Contains(string(x.RespBody), `"note":"x"`) {
		t.Errorf("text lost: %s", x.RespBody)
	}
	html := "<html><body>Bad request. Authorization: Bearer " + opaqueBearer + " token " + checkoutJWT + " for " + customerToken +
		" code=" + authCode + "</body></html>"
	x = Redact("klarna", Exchange{RespHeader: http.Header{"Content-Type": {"text/html"}}, RespBody: []byte(html)})
	gone(t, string(x.RespBody), opaqueBearer, checkoutJWT, customerToken, authCode)
	if !strings.HasPrefix(string(x.RespBody), "<html><body>Bad request.") {
		t.Errorf("text lost: %s", x.RespBody)
	}
	bin := Redact("vipps", Exchange{RespBody: []byte{0xff, 0xfe, 0x00}})
	if string(bin.RespBody) != "[3 bytes, not text: not kept]" {
		t.Errorf("binary: %q", bin.RespBody)
	}
}

func TestTheSameTokenHasTheSameMarkEverywhere(t *testing.T) {
	x := Redact("altpay", Exchange{
		URL:        "https://x/v1/invoices",
		ReqHeader:  http.Header{"Authorization": {"Bearer " + opaqueBearer}},
		RespHeader: http.Header{"Content-Type": {"application/json"}},
		RespBody:   []byte(`{"access_token":"` + opaqueBearer + `"}`),
	})
	m := Mark(opaqueBearer)
	if !strings.Contains(x.ReqHeader.Get("Authorization"), m) || !strings.Contains(string(x.RespBody), m) {
		t.Errorf("want %s in both: %v %s", m, x.ReqHeader, x.RespBody)
	}
	if m != "[redacted "+secret.Tag(opaqueBearer)+"]" || !strings.HasPrefix(m, "[redacted …0a08 #") {
		t.Errorf("mark %q", m)
	}
}

func TestBodiesAreCut(t *testing.T) {
	big := `{"items":["` + strings.Repeat("é", MaxBody) + `"],"access_token":"` + opaqueBearer + `"}`
	x := Redact("altpay", Exchange{RespHeader: http.Header{"Content-Type": {"application/json"}}, RespBody: []byte(big)})
	// Redacted whole, then cut: the token at the end is gone, not just cut off.
	out := string(x.RespBody)
	if len(out) > MaxBody+100 || !strings.Contains(out, fmt.Sprintf(" of %d bytes kept]", len(big)-len(opaqueBearer)+len(Mark(opaqueBearer)))) {
		t.Fatalf("not cut: %d bytes, ends %q", len(out), out[len(out)-60:])
	}
	if !utf8.ValidString(out) {
		t.Error("cut inside a character")
	}
	gone(t, out, opaqueBearer)
	small := Redact("altpay", Exchange{RespBody: []byte("ok")})
	if string(small.RespBody) != "ok" {
		t.Errorf("small body: %q", small.RespBody)
	}
}

// A merchant's own credentials reach customers' order pages and HAR files
// as marks: nothing of their value shows (the end of a Basic credential is
// the end of the password), and the hash is keyed, so a guess cannot be
// checked against it.
func TestMerchantCredentialsShowNothingOfTheirValue(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte("PK_refshop:s3cret-password-tail"))
	x := Redact("klarna", Exchange{Method: "POST", URL: "https://api.example/payments/v1/sessions",
		ReqHeader: http.Header{"Authorization": {"Basic " + basic}, "Content-Type": {"application/x-www-form-urlencoded"}},
		ReqBody:   []byte("grant_type=refresh_token&client_id=c&client_secret=the-client-secret-value")})
	auth := x.ReqHeader.Get("Authorization")
	if !strings.HasPrefix(auth, "Basic [redacted credential #") || strings.Contains(auth, basic[len(basic)-4:]) {
		t.Errorf("Basic auth reads %q", auth)
	}
	if body := string(x.ReqBody); !strings.Contains(body, "client_secret=[redacted credential #") || strings.Contains(body, "alue") {
		t.Errorf("the form's client secret reads %q", body)
	}
	v := Redact("vipps", Exchange{Method: "POST", URL: "https://apitest.vipps.no/accesstoken/get",
		ReqHeader: http.Header{"Client_secret": {"vipps-secret-ending-WXYZ"}, "Ocp-Apim-Subscription-Key": {"0f14ebcab0ec4b29ae0cb90d91b4a84a"}}})
	for _, h := range []string{"Client_secret", "Ocp-Apim-Subscription-Key"} {
		if got := v.ReqHeader.Get(h); !strings.HasPrefix(got, "[redacted credential #") || strings.Contains(got, "WXYZ") || strings.Contains(got, "a84a") {
			t.Errorf("%s reads %q", h, got)
		}
	}
	// The mark is not the value's plain hash (which a guess could be checked against).
	if CredentialMark("x") == "[redacted #"+secret.Tag("x")[1:]+"]" {
		t.Error("the credential mark is the unkeyed hash")
	}
}

// A ";" separates query pairs too, as some servers read it.
func TestASemicolonSeparatedQueryIsRedacted(t *testing.T) {
	x := Redact("klarnasignin", Exchange{Method: "GET", URL: "https://shop.example/cb?state=1;code=the-authorization-code-value"})
	if strings.Contains(x.URL, "authorization-code") || !strings.Contains(x.URL, "code=[redacted") {
		t.Errorf("URL %q", x.URL)
	}
}

// A path that does not match its template, when the template names a
// secret parameter, shows the template: no guessing which segment is safe.
func TestAPathOffItsSecretTemplateShowsTheTemplate(t *testing.T) {
	tok := "0b9a6d1e-4c7f-4f0e-9d1a-1c2b3c4d5e6f"
	x := Redact("klarna", Exchange{Method: "POST", URL: "https://api.example/payments/v1/authorizations/" + tok + "/order/",
		PathTemplate: "/payments/v1/authorizations/{authorization_token}/order"})
	if strings.Contains(x.URL, tok) || strings.Contains(x.URL, tok[:8]) {
		t.Errorf("URL %q shows the authorization token", x.URL)
	}
	if !strings.Contains(x.URL, "{authorization_token}") {
		t.Errorf("URL %q, want the template", x.URL)
	}
}

// Text bodies (JSON sent as text/plain, JSON that does not parse, "key:
// value" and "key=value" text) have their named fields found in every
// shape: quoted or not, escaped, single quotes, numbers. Each for a token
// and for a merchant credential.
func TestNamedFieldsInTextInEveryShape(t *testing.T) {
	const tok, cred = "opaque-access-token-QAZWSX-1234", "merchant-client-secret-EDCRFV-5678"
	const numTok, numCred = "902183746501928374", "564738291056473829"
	shapes := []struct {
		name, format string
		numeric      bool
	}{
		{"double quotes", `"%s": "%s"`, false},
		{"a number", `"%s":%s`, true},
		{"escaped quotes", `\"%s\":\"%s\"`, false},
		{"escaped, a number", `\"%s\": %s`, true},
		{"single quotes", `'%s': '%s'`, false},
		{"key: value", `%s: %s`, false},
		{"key=value", `%s=%s`, false},
		{"key=value, a number", `%s=%s`, true},
	}
	for _, sh := range shapes {
		for _, f := range []struct{ name, value string }{
			{"access_token", tok}, {"client_secret", cred},
		} {
			value, want := f.value, Mark(f.value)
			if sh.numeric {
				value = map[string]string{"access_token": numTok, "client_secret": numCred}[f.name]
				want = Mark(value)
			}
			if f.name == "client_secret" {
				want = CredentialMark(value)
			}
			pair := fmt.Sprintf(sh.format, f.name, value)
			for _, ct := range []string{"text/plain", "application/json", ""} {
				body := "error: bad request {" + pair + ", note: kept} (state=s1)"
				x := Redact("altpay", Exchange{RespHeader: http.Header{"Content-Type": {ct}}, RespBody: []byte(body)})
				out := string(x.RespBody)
				gone(t, out, value)
				if !strings.Contains(out, want) || !strings.HasPrefix(out, "error: bad request {") || !strings.Contains(out, "note: kept} (state=s1)") {
					t.Errorf("%s, %s, %q: got %s, want %s in it", sh.name, f.name, ct, out, want)
				}
			}
		}
	}
}

// A valid JSON body whose string value echoes a request (an error message
// quoting the body or a form) has the named fields inside it found too.
func TestNamedFieldsInsideAJSONString(t *testing.T) {
	const tok = "opaque-access-token-QAZWSX-1234"
	body := `{"error":"invalid_request","detail":"could not read {\"access_token\":\"` + tok + `\",\"n\":1}","echo":"grant_type=x&refresh_token=` + refreshToken + `"}`
	x := Redact("altpay", Exchange{RespHeader: http.Header{"Content-Type": {"application/json"}}, RespBody: []byte(body)})
	out := string(x.RespBody)
	gone(t, out, tok, refreshToken)
	if !strings.Contains(out, `"error":"invalid_request"`) || !strings.Contains(out, `grant_type=x`) {
		t.Errorf("lost text: %s", out)
	}
}

// A word that is only part of a secret field's name is no secret field.
func TestOnlyWholeNamesAreSecretFields(t *testing.T) {
	body := `my_token_count: 3, tokens=4, xpassword: visible-value, "code": "E123"`
	x := Redact("altpay", Exchange{RespHeader: http.Header{"Content-Type": {"text/plain"}}, RespBody: []byte(body)})
	if string(x.RespBody) != body {
		t.Errorf("got %s", x.RespBody)
	}
}

// Alternative Payments' webhook secret_key, in the subscribe body, is
// redacted; the last four characters the answer shows by design stay, and
// so does the same field name for another provider (no rule says so there).
func TestAltpayWebhookSecretKey(t *testing.T) {
	const key = "whsk-shop-chosen-Y2hlY2tvdXQtand0LXNpZw"
	json := http.Header{"Content-Type": {"application/json"}}
	body := `{"endpoint_url":"https://shop.example/webhooks/altpay","secret_key":"` + key + `","topic":"invoice_paid"}`
	x := Redact("altpay", Exchange{Method: "POST", URL: "https://public-api.alternativepayments.io/webhooks",
		ReqHeader: json, ReqBody: []byte(body), RespHeader: json,
		RespBody: []byte(`{"id":"whk_1","secret_last_4_digits":"NpZw","topic":"invoice_paid"}`)})
	gone(t, dump(x), key)
	for _, keep := range []string{`"secret_key":"` + Mark(key) + `"`, `"topic":"invoice_paid"`, `"secret_last_4_digits":"NpZw"`,
		`"endpoint_url":"https://shop.example/webhooks/altpay"`} {
		if !strings.Contains(dump(x), keep) {
			t.Errorf("lacks %s:\n%s", keep, dump(x))
		}
	}
	if other := Redact("klarna", Exchange{ReqHeader: json, ReqBody: []byte(body)}); !strings.Contains(string(other.ReqBody), key) {
		t.Errorf("secret_key is altpay's rule, yet klarna's exchange lost it: %s", other.ReqBody)
	}
}

// A provider's call to the shop presents the shop's own secret or a
// signature made with it: nothing of either shows, the schemes and the
// signed headers' names stay, and the Klarna callback's one-time token in
// the URL is a token's mark (the same as in the session's merchant_urls).
func TestInboundCredentialsShowNothingOfTheirValue(t *testing.T) {
	const sig = "agAiSyogQbDHpeucoNwYz+yAr5nJ+v+zasdkSbqzv+U="
	v := Redact("vipps", Exchange{Inbound: true, Method: "POST", URL: "https://shop.example/webhooks/vipps",
		ReqHeader: http.Header{"Authorization": {"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=" + sig},
			"X-Ms-Content-Sha256": {"lNlsp1XA03N34HrQsVzPgJKtC+r7l/RBF4V3JQUWMj4="}}})
	auth := v.ReqHeader.Get("Authorization")
	if want := "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=" + CredentialMark(sig); auth != want {
		t.Errorf("the HMAC header reads %q, want %q", auth, want)
	}
	gone(t, dump(v), sig, sig[len(sig)-5:len(sig)-1])
	if got := v.ReqHeader.Get("X-Ms-Content-Sha256"); got != "lNlsp1XA03N34HrQsVzPgJKtC+r7l/RBF4V3JQUWMj4=" {
		t.Errorf("the body's hash (no secret) reads %q", got)
	}

	const key = "whsk-shop-chosen-Y2hlY2tvdXQtand0LXNpZw"
	a := Redact("altpay", Exchange{Inbound: true, Method: "POST", URL: "https://shop.example/webhooks/altpay",
		ReqHeader: http.Header{"Authorization": {"Bearer " + key}}})
	if got := a.ReqHeader.Get("Authorization"); got != "Bearer "+CredentialMark(key) {
		t.Errorf("the bearer reads %q", got)
	}
	gone(t, dump(a), key, "NpZw")
	// The same header of a call the shop makes is a token's mark still.
	if out := Redact("altpay", Exchange{ReqHeader: http.Header{"Authorization": {"Bearer " + key}}}); out.ReqHeader.Get("Authorization") != "Bearer "+Mark(key) {
		t.Errorf("an outbound bearer reads %q", out.ReqHeader.Get("Authorization"))
	}

	const tok = "MJQXG4TMMFZW63LFORZWK3DMMVZA"
	k := Redact("klarna", Exchange{Inbound: true, Method: "POST", PathTemplate: "/callbacks/klarna/authorization/{order}",
		URL: "https://shop.example/callbacks/klarna/authorization/ord123?token=" + tok})
	if want := "https://shop.example/callbacks/klarna/authorization/ord123?token=" + Mark(tok); k.URL != want {
		t.Errorf("the callback URL reads %q, want %q", k.URL, want)
	}
}
