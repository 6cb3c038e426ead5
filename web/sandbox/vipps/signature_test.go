package vipps

import (
	"net/http"
	"testing"
	"time"
)

// The documented test vector of the request authentication page
// (https://developer.vippsmobilepay.com/docs/APIs/webhooks-api/request-authentication/,
// its JavaScript and C# tabs), reproduced byte for byte.
func TestWebhookSignatureReproducesTheDocumentedTestVector(t *testing.T) {
	const (
		secret = "A0+AeKBRG2KRGvnNwJpQlb6IJFk48CKXCIcrLoHncVJKDILsQSxS6NWCccwWm6r6FhGKhiHTBsG2wo/xU6FY/A=="
		url    = "https://webhook.site/e2cee29b-012e-4f1d-8ef4-e95fd74a7a63"
		body   = `{"some-unique-content":"ee6e441b-cc4a-46f8-895d-a5af79bcc233/hello-world"}`
		date   = "Thu, 30 Mar 2023 08:38:32 GMT"
	)
	hash, authz, host, err := webhookSignature(secret, url, date, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if want := "lNlsp1XA03N34HrQsVzPgJKtC+r7l/RBF4V3JQUWMj4="; hash != want {
		t.Errorf("x-ms-content-sha256 = %s, want %s", hash, want)
	}
	if want := "HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=agAiSyogQbDHpeucoNwYz+yAr5nJ+v+zasdkSbqzv+U="; authz != want {
		t.Errorf("Authorization = %s, want %s", authz, want)
	}
	if host != "webhook.site" {
		t.Errorf("host = %s", host)
	}

	// signRequest sets the same values, dated in RFC 1123 GMT form.
	req, _ := http.NewRequest("POST", url, nil)
	if err := signRequest(req, secret, []byte(body), time.Date(2023, 3, 30, 10, 38, 32, 0, time.FixedZone("CEST", 2*3600))); err != nil {
		t.Fatal(err)
	}
	if req.Header.Get("x-ms-date") != date || req.Header.Get("Authorization") != authz || req.Host != host {
		t.Errorf("signRequest: date %q, authorization %q, host %q", req.Header.Get("x-ms-date"), req.Header.Get("Authorization"), req.Host)
	}
}

// host is the URL's authority as JavaScript's url.host gives it: a
// non-default port kept, a default one left out; the path and query are
// signed as registered.
func TestWebhookSignatureHostAndPath(t *testing.T) {
	for _, c := range []struct{ url, host string }{
		{"https://shop.example:8443/hooks/vipps?x=1", "shop.example:8443"},
		{"https://shop.example:443/hooks", "shop.example"},
		{"http://localhost:8080/hooks", "localhost:8080"},
		{"http://localhost:80/hooks", "localhost"},
	} {
		_, _, host, err := webhookSignature("s", c.url, "d", nil)
		if err != nil || host != c.host {
			t.Errorf("%s: host %q (%v), want %q", c.url, host, err, c.host)
		}
	}
	_, a1, _, _ := webhookSignature("s", "https://h/p?x=1", "d", []byte("b"))
	_, a2, _, _ := webhookSignature("s", "https://h/p?x=2", "d", []byte("b"))
	if a1 == a2 {
		t.Error("the query is not signed")
	}
}
