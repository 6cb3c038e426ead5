package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"refshop/db"
)

// One row per environment and URL: the first claim wins, a takeover is a
// compare-and-swap on the claim, and only the claimant's registration is
// stored.
func TestVippsWebhookClaims(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const url = "http://localhost:8080/webhooks/vipps"
	if _, err := s.VippsWebhookByURL(ctx, vippsSandbox, url); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("before any claim: %v", err)
	}
	if ok, err := s.ClaimVippsWebhook(ctx, vippsSandbox, url, "a"); !ok || err != nil {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if ok, err := s.ClaimVippsWebhook(ctx, vippsSandbox, url, "b"); ok || err != nil {
		t.Fatalf("second claim: %v %v, want refused", ok, err)
	}
	// Another environment has its own row.
	if ok, err := s.ClaimVippsWebhook(ctx, vippsReal, url, "b"); !ok || err != nil {
		t.Fatalf("claim at another environment: %v %v", ok, err)
	}
	if err := s.SetVippsWebhook(ctx, vippsSandbox, url, "b", "id-b", "v1:sealed-b"); !errors.Is(err, db.ErrStale) {
		t.Fatalf("a registration under another's claim: %v", err)
	}
	if err := s.SetVippsWebhook(ctx, vippsSandbox, url, "a", "id-a", "v1:sealed-a"); err != nil {
		t.Fatal(err)
	}
	w, err := s.VippsWebhookByURL(ctx, vippsSandbox, url)
	if err != nil || !w.Registered() || w.WebhookID != "id-a" || w.Secret != "v1:sealed-a" || w.Claim != "a" || w.RegisteredAt.IsZero() {
		t.Fatalf("stored: %+v %v", w, err)
	}
	// Two instances take a stale row over: one wins.
	if err := s.ReclaimVippsWebhook(ctx, vippsSandbox, url, "a", "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReclaimVippsWebhook(ctx, vippsSandbox, url, "a", "d"); !errors.Is(err, db.ErrStale) {
		t.Fatalf("second takeover: %v", err)
	}
	if w, _ := s.VippsWebhookByURL(ctx, vippsSandbox, url); w.Registered() || w.Claim != "c" {
		t.Fatalf("after the takeover: %+v", w)
	}
	if err := s.SetVippsWebhook(ctx, vippsSandbox, url, "a", "id-a2", "v1:x"); !errors.Is(err, db.ErrStale) {
		t.Fatalf("the old claimant stored after the takeover: %v", err)
	}
	if err := s.SetVippsWebhook(ctx, vippsSandbox, url, "c", "id-c", "v1:sealed-c"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteVippsWebhook(ctx, vippsSandbox, "id-a"); err != nil {
		t.Fatal(err)
	}
	if w, err := s.VippsWebhookByURL(ctx, vippsSandbox, url); err != nil || w.WebhookID != "id-c" {
		t.Fatalf("deleting another id removed the row: %+v %v", w, err)
	}
	if err := s.DeleteVippsWebhook(ctx, vippsSandbox, "id-c"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VippsWebhookByURL(ctx, vippsSandbox, url); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

// An event is stored once per pspReference and name; a repeat returns the
// first copy, settled or not.
func TestVippsWebhookEventsAreStoredOnce(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	o := placeOrder(t, s, db.NewOrder{GuestID: "guest-1", Provider: db.ProviderVipps})
	p := db.VippsPayment{OrderID: o.ID, Environment: vippsSandbox, Reference: "refshop-" + o.PublicID, CreateKey: "k-create",
		CancelKey: "k-cancel", SettleAfter: clk.Now()}
	if err := s.CreateVippsPayment(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got, err := s.VippsPaymentByReference(ctx, p.Reference); err != nil || got.OrderID != o.ID {
		t.Fatalf("by reference: %+v %v", got, err)
	}
	if _, err := s.VippsPaymentByReference(ctx, "refshop-nobody"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("unknown reference: %v", err)
	}
	at := time.Date(2026, 11, 21, 9, 1, 0, 123e6, time.UTC)
	ev := db.VippsWebhookEvent{OrderID: o.ID, MSN: "123456", Reference: p.Reference, PSPReference: "psp-1", Name: "AUTHORIZED",
		Amount: 4980, Currency: "NOK", OccurredAt: at, Success: true}
	first, fresh, err := s.AddVippsWebhookEvent(ctx, ev)
	if err != nil || !fresh || first.ID == 0 || !first.SettledAt.IsZero() || !first.OccurredAt.Equal(at) || first.IdempotencyKey != "" {
		t.Fatalf("first: %+v %v %v", first, fresh, err)
	}
	if err := s.SetVippsWebhookEventSettled(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	again, fresh, err := s.AddVippsWebhookEvent(ctx, ev)
	if err != nil || fresh || again.ID != first.ID || again.SettledAt.IsZero() {
		t.Fatalf("repeat: %+v %v %v", again, fresh, err)
	}
	// Same pspReference, another name: another event.
	ev.Name, ev.IdempotencyKey, ev.OccurredAt = "CAPTURED", "k-op", at.Add(-time.Minute)
	if _, fresh, err := s.AddVippsWebhookEvent(ctx, ev); !fresh || err != nil {
		t.Fatalf("another name: %v %v", fresh, err)
	}
	list, err := s.VippsWebhookEvents(ctx, o.ID)
	if err != nil || len(list) != 2 || list[0].Name != "CAPTURED" || list[0].IdempotencyKey != "k-op" || list[1].Name != "AUTHORIZED" {
		t.Fatalf("list, oldest first: %+v %v", list, err)
	}
}
