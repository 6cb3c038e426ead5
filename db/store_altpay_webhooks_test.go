package db_test

import (
	"errors"
	"testing"

	"refshop/db"
)

func TestAltpayWebhookIsSavedReplacedAndForgotten(t *testing.T) {
	s, _ := newStore(t)
	const url = "http://localhost:8080/webhooks/altpay"
	if _, err := s.AltpayWebhookFor(t.Context(), sandboxEnv, "invoice_paid", url); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("none yet: %v", err)
	}
	w := db.AltpayWebhook{Environment: sandboxEnv, Topic: "invoice_paid", EndpointURL: url, SecretSealed: "v1:sealed"}
	if err := s.SaveAltpayWebhook(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	got, err := s.AltpayWebhookFor(t.Context(), sandboxEnv, "invoice_paid", url)
	if err != nil || got != w {
		t.Fatalf("got %+v, %v; want %+v", got, err, w)
	}
	w.SubscriptionID = "whk_1"
	if err := s.SaveAltpayWebhook(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AltpayWebhookFor(t.Context(), sandboxEnv, "invoice_paid", url); got.SubscriptionID != "whk_1" || got.SecretSealed != "v1:sealed" {
		t.Fatalf("replaced: %+v", got)
	}
	if _, err := s.AltpayWebhookFor(t.Context(), "https://public-api.demo.alternativepayments.io", "invoice_paid", url); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("another environment's: %v", err)
	}
	if err := s.ForgetAltpayWebhook(t.Context(), sandboxEnv, "invoice_paid", url); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AltpayWebhookFor(t.Context(), sandboxEnv, "invoice_paid", url); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("after forget: %v", err)
	}
}

func TestAltpayWebhookEventsAreDedupedByInvoiceAndTopic(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	if ok, _ := s.AltpayWebhookReported(ctx, sandboxEnv, "inv_1", "invoice_paid"); ok {
		t.Fatal("reported before any event")
	}
	for range 2 { // received twice, neither settled
		if settled, err := s.ReceiveAltpayWebhookEvent(ctx, sandboxEnv, "inv_1", "invoice_paid"); err != nil || settled {
			t.Fatalf("received: settled %v, %v", settled, err)
		}
	}
	if ok, _ := s.AltpayWebhookReported(ctx, sandboxEnv, "inv_1", "invoice_paid"); !ok {
		t.Fatal("not reported after an event")
	}
	if err := s.SettleAltpayWebhookEvent(ctx, sandboxEnv, "inv_1", "invoice_paid"); err != nil {
		t.Fatal(err)
	}
	if settled, err := s.ReceiveAltpayWebhookEvent(ctx, sandboxEnv, "inv_1", "invoice_paid"); err != nil || !settled {
		t.Fatalf("a repeat after settling: settled %v, %v", settled, err)
	}
	// Another topic, another invoice or another environment is another event.
	for _, k := range [][3]string{{sandboxEnv, "inv_1", "invoice_updated"}, {sandboxEnv, "inv_2", "invoice_paid"},
		{"https://public-api.demo.alternativepayments.io", "inv_1", "invoice_paid"}} {
		if settled, err := s.ReceiveAltpayWebhookEvent(ctx, k[0], k[1], k[2]); err != nil || settled {
			t.Fatalf("%v: settled %v, %v", k, settled, err)
		}
	}
}
