package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"refshop/db"
)

// The Vipps APIs the tests make payments at: the sandbox and the real test
// environment.
const (
	vippsSandbox = "http://localhost:8081/vipps"
	vippsReal    = "https://apitest.vipps.no"
)

func TestVippsPaymentStore(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	o := placeOrder(t, s, db.NewOrder{GuestID: "guest-1", Provider: db.ProviderVipps})
	settle := clk.Now().Add(11 * time.Minute)
	p := db.VippsPayment{OrderID: o.ID, Environment: vippsSandbox, Reference: "refshop-" + o.PublicID, CreateKey: o.IdempotencyKey + "-create",
		CancelKey: o.IdempotencyKey + "-cancel", SettleAfter: settle}
	if err := s.CreateVippsPayment(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateVippsPayment(ctx, p); err == nil {
		t.Error("a second payment for the same order was stored")
	}
	if err := s.SetVippsCreated(ctx, o.ID, "http://localhost:8081/vipps/landing?token=abc"); err != nil {
		t.Fatal(err)
	}
	got, err := s.VippsPaymentByOrder(ctx, o.ID)
	if err != nil || got.State != "CREATED" || got.RedirectURL == "" || !got.SettleAfter.Equal(settle) || !got.CheckedAt.IsZero() {
		t.Fatalf("%+v %v", got, err)
	}

	due := dueVipps(t, s, clk.Now(), 5, 10)
	if len(due) != 0 {
		t.Errorf("due before settle time: %v", due)
	}
	due = dueVipps(t, s, settle, 5, 10)
	if len(due) != 1 || due[0] != o.PublicID {
		t.Errorf("due at settle time: %v", due)
	}

	if err := s.SetVippsState(ctx, o.ID, "AUTHORIZED", "psp-1", 850); err != nil {
		t.Fatal(err)
	}
	if got, err = s.VippsPaymentByOrder(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	if got.State != "AUTHORIZED" || got.RedirectURL != "" || got.Captured != 850 || got.CheckedAt.IsZero() {
		t.Errorf("after state: %+v", got)
	}
	if err := s.SetOrderStatus(ctx, o.ID, db.StatusPending, db.StatusCaptured, ""); err != nil {
		t.Fatal(err)
	}
	if due = dueVipps(t, s, settle, 5, 10); len(due) != 0 {
		t.Errorf("a captured order is still due: %v", due)
	}

	key := "k-capture"
	at := clk.Now()
	events := []db.VippsEvent{{Name: "CREATED", Currency: "EUR", Amount: 850, OccurredAt: at, IdempotencyKey: "k-create", Success: true},
		{Name: "AUTHORIZED", Currency: "EUR", Amount: 850, OccurredAt: at.Add(time.Minute), Success: true},
		{Name: "CAPTURED", Currency: "EUR", Amount: 850, OccurredAt: at.Add(2 * time.Minute), IdempotencyKey: key, Success: true}}
	if err := s.ReplaceVippsEvents(ctx, o.ID, events[:2]); err != nil {
		t.Fatal(err)
	}
	if err := s.ReplaceVippsEvents(ctx, o.ID, events); err != nil {
		t.Fatal(err)
	}
	stored, err := s.VippsEvents(ctx, o.ID)
	if err != nil || len(stored) != 3 || stored[2].Name != "CAPTURED" || stored[2].IdempotencyKey != key || stored[1].IdempotencyKey != "" || !stored[1].OccurredAt.Equal(at.Add(time.Minute)) {
		t.Errorf("events: %+v %v", stored, err)
	}
	if _, err := s.VippsPaymentByOrder(ctx, 999); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
}

// A failed sweep counts a try and moves the settle time; an order past
// maxTries is no longer listed.
func TestVippsSettleFailedBacksOffAndBounds(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	var ids []string
	for i := range 2 {
		o := placeOrder(t, s, db.NewOrder{GuestID: "guest-1", Provider: db.ProviderVipps})
		p := db.VippsPayment{OrderID: o.ID, Environment: vippsSandbox, Reference: "refshop-" + o.PublicID, CreateKey: "c", CancelKey: "x",
			SettleAfter: clk.Now().Add(time.Duration(i) * time.Minute)}
		if err := s.CreateVippsPayment(ctx, p); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.PublicID)
	}
	now := clk.Now().Add(time.Hour)
	if due := dueVipps(t, s, now, 2, 1); len(due) != 1 || due[0] != ids[0] {
		t.Fatalf("oldest first: %v", due)
	}
	first, err := s.OrderByPublicID(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	tries, err := s.VippsSettleFailed(ctx, first.ID, now.Add(time.Minute))
	if err != nil || tries != 1 {
		t.Fatalf("tries %d, %v", tries, err)
	}
	if due := dueVipps(t, s, now, 2, 10); len(due) != 1 || due[0] != ids[1] {
		t.Errorf("a failed order was not moved behind: %v", due)
	}
	if due := dueVipps(t, s, now.Add(time.Minute), 2, 10); len(due) != 2 || due[0] != ids[1] {
		t.Errorf("after its new settle time: %v", due)
	}
	if tries, err = s.VippsSettleFailed(ctx, first.ID, now.Add(time.Minute)); err != nil || tries != 2 {
		t.Errorf("tries %d, %v; want 2", tries, err)
	}
	if due := dueVipps(t, s, now.Add(time.Hour), 2, 10); len(due) != 1 || due[0] != ids[1] {
		t.Errorf("an order past the bound is still listed: %v", due)
	}
	if _, err := s.VippsSettleFailed(ctx, 9999, now); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("unknown order: %v", err)
	}
}

// A payment belongs to the API it was created at: the sweep of another
// environment never lists it, and its row says where it was made.
func TestVippsPaymentsArePerEnvironment(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	o := vippsOrder(t, s, clk.Now())
	now := clk.Now().Add(time.Hour)
	if due := dueVipps(t, s, now, 8, 10); len(due) != 1 || due[0] != o.PublicID {
		t.Fatalf("due in its own environment: %v", due)
	}
	due, err := s.VippsOrdersToSettle(ctx, vippsReal, now, 8, 10)
	if err != nil || len(due) != 0 {
		t.Errorf("due in another environment: %v %v, want none", due, err)
	}
	if got, err := s.VippsPaymentByOrder(ctx, o.ID); err != nil || got.Environment != vippsSandbox {
		t.Errorf("stored environment %q, %v", got.Environment, err)
	}
	p := db.VippsPayment{OrderID: placeOrder(t, s, db.NewOrder{GuestID: "guest-2", Provider: db.ProviderVipps}).ID,
		Reference: "refshop-x", CreateKey: "c", CancelKey: "x"}
	if err := s.CreateVippsPayment(ctx, p); err == nil {
		t.Error("a payment with no environment was stored")
	}
}

// vippsOrder is a guest's Vipps order with its payment stored in
// vippsSandbox, to be settled after settle.
func vippsOrder(t *testing.T, s *db.Store, settle time.Time) db.Order {
	t.Helper()
	o := placeOrder(t, s, db.NewOrder{GuestID: "guest-1", Provider: db.ProviderVipps})
	if err := s.CreateVippsPayment(t.Context(), db.VippsPayment{OrderID: o.ID, Environment: vippsSandbox, Reference: "refshop-" + o.PublicID,
		CreateKey: "c", CancelKey: "x", SettleAfter: settle}); err != nil {
		t.Fatal(err)
	}
	return o
}

// dueVipps is VippsOrdersToSettle, failing the test when the query fails (an
// empty list must mean "none due", not "could not ask").
func dueVipps(t *testing.T, s *db.Store, now time.Time, maxTries, limit int) []string {
	t.Helper()
	due, err := s.VippsOrdersToSettle(context.Background(), vippsSandbox, now, maxTries, limit)
	if err != nil {
		t.Fatal(err)
	}
	return due
}

// What a request read before another one's approval or capture cannot undo
// what that one recorded: two settles racing (in one process or two) leave
// the payment AUTHORIZED with its captured amount, not CREATED or 0.
func TestVippsStateKeepsTheCaptureAgainstOlderReads(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	o := vippsOrder(t, s, clk.Now())
	if err := s.SetVippsCreated(ctx, o.ID, "http://localhost:8081/vipps/landing?token=abc"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetVippsState(ctx, o.ID, "AUTHORIZED", "psp-1", 850); err != nil {
		t.Fatal(err)
	}
	// Reads from before the capture, and from before the approval, land late.
	if err := s.SetVippsState(ctx, o.ID, "AUTHORIZED", "psp-1", 0); err != nil {
		t.Fatal(err)
	}
	if err := s.SetVippsState(ctx, o.ID, "CREATED", "", 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.VippsPaymentByOrder(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "AUTHORIZED" || got.Captured != 850 || got.PSPReference != "psp-1" || got.RedirectURL != "" {
		t.Errorf("after older reads: state %q, captured %d, psp %q, landing %q; want AUTHORIZED, 850, psp-1, none",
			got.State, got.Captured, got.PSPReference, got.RedirectURL)
	}
}
