package vipps_test

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
	"time"

	"refshop/web/secret"
	"refshop/web/vipps"
)

// The request-authentication page's test vector
// (https://developer.vippsmobilepay.com/docs/APIs/webhooks-api/request-authentication/).
const (
	vectorSecret = "A0+AeKBRG2KRGvnNwJpQlb6IJFk48CKXCIcrLoHncVJKDILsQSxS6NWCccwWm6r6FhGKhiHTBsG2wo/xU6FY/A=="
	vectorURL    = "https://webhook.site/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63"
	vectorBody   = `{"some-unique-content":"ee6e441b-cc4a-46f8-895d-a5af79bcc233/hello-world"}`
	vectorDate   = "Thu, 30 Mar 2023 08:38:32 GMT"
	vectorHash   = "lNlsp1XA03N34HrQsVzPgJKtC+r7l/RBF4V3JQUWMj4="
	vectorAuth   = "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=agAiSyogQbDHpeucoNwYz+yAr5nJ+v+zasdkSbqzv+U="
)

var vectorNow = time.Date(2023, 3, 30, 8, 38, 32, 0, time.UTC)

func vectorHeaders() http.Header {
	return http.Header{"X-Ms-Date": {vectorDate}, "X-Ms-Content-Sha256": {vectorHash}, "Authorization": {vectorAuth}}
}

func TestWebhookAuthorizationReproducesTheDocumentedVector(t *testing.T) {
	sum := sha256.Sum256([]byte(vectorBody))
	if got := base64.StdEncoding.EncodeToString(sum[:]); got != vectorHash {
		t.Fatalf("content hash %s, want %s", got, vectorHash)
	}
	got, err := vipps.WebhookAuthorization(secret.New(vectorSecret), vectorURL, vectorDate, vectorHash)
	if err != nil || got != vectorAuth {
		t.Fatalf("authorization %q (%v)\nwant %q", got, err, vectorAuth)
	}
	if err := vipps.VerifyWebhook(secret.New(vectorSecret), "POST", vectorURL, vectorHeaders(), []byte(vectorBody), vectorNow, vipps.WebhookMaxSkew); err != nil {
		t.Fatalf("the documented delivery is refused: %v", err)
	}
	// A default port in the registered URL is not part of the signed host.
	if err := vipps.VerifyWebhook(secret.New(vectorSecret), "POST", "https://webhook.site:443/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63",
		vectorHeaders(), []byte(vectorBody), vectorNow, vipps.WebhookMaxSkew); err != nil {
		t.Fatalf("with :443: %v", err)
	}
}

// decodedSecret is the vector's secret base64-decoded: the page's key is
// the secret's own UTF-8 bytes, never these.
func decodedSecret(t *testing.T) secret.Secret {
	raw, err := base64.StdEncoding.DecodeString(vectorSecret)
	if err != nil {
		t.Fatal(err)
	}
	return secret.New(string(raw))
}

func TestVerifyWebhookRefusals(t *testing.T) {
	sec := secret.New(vectorSecret)
	cases := []struct {
		name   string
		secret secret.Secret
		method string
		url    string
		edit   func(h http.Header)
		body   string
		now    time.Time
		want   error
	}{
		{name: "a changed body", body: `{"some-unique-content":"ee6e441b-cc4a-46f8-895d-a5af79bcc233/hello-world!"}`, want: vipps.ErrWebhookBodyHash},
		{name: "a hash of another body", edit: func(h http.Header) { h.Set("x-ms-content-sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=") }, want: vipps.ErrWebhookBodyHash},
		{name: "another secret", secret: secret.New("090a478d-37ff-4e77-970e-d457aeb26a3a"), want: vipps.ErrWebhookSignature},
		{name: "the secret base64-decoded is not the key", secret: decodedSecret(t), want: vipps.ErrWebhookSignature},
		{name: "a changed signature", edit: func(h http.Header) { h.Set("Authorization", vectorAuth[:len(vectorAuth)-2]+"V=") }, want: vipps.ErrWebhookSignature},
		{name: "the signature alone", edit: func(h http.Header) { h.Set("Authorization", "agAiSyogQbDHpeucoNwYz+yAr5nJ+v+zasdkSbqzv+U=") }, want: vipps.ErrWebhookSignature},
		{name: "another host", url: "https://webhook.example/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63", want: vipps.ErrWebhookSignature},
		{name: "another port", url: "https://webhook.site:8443/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63", want: vipps.ErrWebhookSignature},
		{name: "another path", url: "https://webhook.site/webhooks/vipps", want: vipps.ErrWebhookSignature},
		{name: "a query the registration did not have", url: vectorURL + "?x=1", want: vipps.ErrWebhookSignature},
		{name: "another date than signed", edit: func(h http.Header) { h.Set("x-ms-date", "Thu, 30 Mar 2023 08:38:33 GMT") }, want: vipps.ErrWebhookSignature},
		{name: "stale", now: vectorNow.Add(vipps.WebhookMaxSkew + time.Second), want: vipps.ErrWebhookDate},
		{name: "from the future", now: vectorNow.Add(-vipps.WebhookMaxSkew - time.Second), want: vipps.ErrWebhookDate},
		{name: "no Authorization", edit: func(h http.Header) { h.Del("Authorization") }, want: vipps.ErrWebhookUnsigned},
		{name: "no date", edit: func(h http.Header) { h.Del("x-ms-date") }, want: vipps.ErrWebhookUnsigned},
		{name: "no hash", edit: func(h http.Header) { h.Del("x-ms-content-sha256") }, want: vipps.ErrWebhookUnsigned},
		{name: "a GET", method: "GET", want: vipps.ErrWebhookMethod},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := vectorHeaders()
			if c.edit != nil {
				c.edit(h)
			}
			s, method, u, body, now := sec, "POST", vectorURL, vectorBody, vectorNow
			if !c.secret.IsZero() {
				s = c.secret
			}
			if c.method != "" {
				method = c.method
			}
			if c.url != "" {
				u = c.url
			}
			if c.body != "" {
				body = c.body
			}
			if !c.now.IsZero() {
				now = c.now
			}
			if err := vipps.VerifyWebhook(s, method, u, h, []byte(body), now, vipps.WebhookMaxSkew); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
	// Within the window either way: accepted.
	for _, d := range []time.Duration{vipps.WebhookMaxSkew, -vipps.WebhookMaxSkew} {
		if err := vipps.VerifyWebhook(sec, "POST", vectorURL, vectorHeaders(), []byte(vectorBody), vectorNow.Add(d), vipps.WebhookMaxSkew); err != nil {
			t.Errorf("%v off: %v", d, err)
		}
	}
}
