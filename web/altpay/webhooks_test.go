package altpay_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"refshop/web/altpay"
	"refshop/web/outbound/outboundtest"
	"refshop/web/secret"
)

func TestWebhookBodiesMatchTheDocs(t *testing.T) {
	d := newDocServer(t)
	d.answer("POST /webhooks", 201, doc(t, "webhook_subscription_response.json"))
	d.answer("GET /webhooks", 200, doc(t, "webhooks_list_response.json"))
	d.answer("DELETE /webhooks/{id}", 200, doc(t, "webhook_subscription_response.json"))
	c := d.client()
	w, err := c.RegisterWebhook(t.Context(), altpay.NewWebhook{EndpointURL: "https://your-server.com/webhooks",
		SecretKey: secret.New("your_secret_key"), Topic: altpay.TopicInvoicePaid})
	if err != nil {
		t.Fatal(err)
	}
	s := d.sent("/webhooks")[0]
	sameJSON(t, "POST /webhooks", s.body, doc(t, "webhook_subscribe_request.json"))
	if s.contentType != "application/json" || !strings.HasPrefix(s.auth, "Bearer ") {
		t.Errorf("POST /webhooks sent Content-Type %q, Authorization %q", s.contentType, s.auth)
	}
	if w.ID != "text" || !w.IsActive || w.SecretLast4 != "text" || w.Topic != "payout_paid" {
		t.Errorf("subscription %+v", w)
	}
	page, err := c.ListWebhooks(t.Context(), altpay.WebhookFilter{Topic: altpay.TopicInvoicePaid})
	if err != nil || len(page.Data) != 1 || !page.HasNextPage || page.EndCursor != "gaFpxBACEaXBVABEYbHG+X9LyLnH" {
		t.Fatalf("list %+v, %v", page, err)
	}
	if got := d.sent("/webhooks?")[0].path; got != "/webhooks?topic=invoice_paid" {
		t.Errorf("list query %q", got)
	}
	if _, err := c.DeleteWebhook(t.Context(), "whk 1"); err != nil {
		t.Fatal(err)
	}
	if del := d.sent("/webhooks/"); len(del) != 1 || del[0].method != "DELETE" || del[0].path != "/webhooks/whk%201" {
		t.Errorf("delete sent %+v", del)
	}
}

func TestRegisterWebhookIsNeverRetried(t *testing.T) {
	d := newDocServer(t)
	d.answer("POST /webhooks", 503, doc(t, "error_bad_request.json"))
	_, err := d.client().RegisterWebhook(t.Context(), altpay.NewWebhook{EndpointURL: "https://shop.example/webhooks/altpay",
		SecretKey: secret.New("k"), Topic: altpay.TopicInvoicePaid})
	if err == nil || !altpay.OutcomeUnknown(err) {
		t.Fatalf("a 503 must leave the outcome unknown, got %v", err)
	}
	if n := len(d.sent("/webhooks")); n != 1 {
		t.Fatalf("POST /webhooks sent %d times, want once", n)
	}
}

// Against the sandbox: register, find by URL, delete; and the recorder
// keeps no secret_key.
func TestWebhooksAgainstTheSandboxAreRecordedRedacted(t *testing.T) {
	w := newWorld(t)
	rec := outboundtest.New(t, nil)
	c := altpay.New(altpay.Config{BaseURL: w.sb.URL + "/altpay", ClientID: sbClientID, ClientSecret: secret.New(sbClientSecret),
		HTTP: rec.Client, Clock: w.clk, Sleep: func(_ context.Context, _ time.Duration) error { return nil }})
	const key = "shop-generated-webhook-secret-Zq81"
	const url = "http://shop.test/webhooks/altpay"
	reg, err := c.RegisterWebhook(t.Context(), altpay.NewWebhook{EndpointURL: url, SecretKey: secret.New(key), Topic: altpay.TopicInvoicePaid})
	if err != nil {
		t.Fatal(err)
	}
	if reg.SecretLast4 != "Zq81" || reg.EndpointURL != url || !reg.IsActive {
		t.Fatalf("registered %+v", reg)
	}
	if _, err := c.RegisterWebhook(t.Context(), altpay.NewWebhook{EndpointURL: "https://elsewhere.example/h", Topic: altpay.TopicInvoicePaid}); err != nil {
		t.Fatal(err)
	}
	found, err := c.FindWebhooks(t.Context(), altpay.TopicInvoicePaid, url)
	if err != nil || len(found) != 1 || found[0].ID != reg.ID {
		t.Fatalf("FindWebhooks: %+v, %v", found, err)
	}
	if _, err := c.DeleteWebhook(t.Context(), reg.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteWebhook(t.Context(), reg.ID); !altpay.IsKind(err, altpay.KindNotFound) {
		t.Fatalf("deleting again: %v, want not found", err)
	}
	if found, _ := c.FindWebhooks(t.Context(), altpay.TopicInvoicePaid, url); len(found) != 0 {
		t.Fatalf("still found after delete: %+v", found)
	}

	var register bool
	for _, x := range rec.Exchanges(t) {
		if x.Operation == "create_webhook" && x.PathTemplate == "/webhooks" && x.Status == http.StatusCreated {
			register = true
		}
	}
	if !register {
		t.Fatal("the register call was not recorded")
	}
	rec.NoSecretRecorded(t, key, sbClientSecret)
}
