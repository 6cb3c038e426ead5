package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"refshop/db"
)

// The link's version is a compare-and-swap guard that never repeats, even
// across unlink and relink.
func TestKlarnaLinkCompareAndSwap(t *testing.T) {
	s, clk := newStore(t)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "a@example.com", "A", "")
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.KlarnaLink(ctx, u.ID)
	if err != nil || l.Linked() || l.Version != 0 {
		t.Fatalf("fresh user: %+v %v", l, err)
	}
	v1, err := s.SwapKlarnaToken(ctx, u.ID, 0, "v1:sealed-a", "••••aaaa")
	if err != nil || v1 != 1 {
		t.Fatalf("insert: %d %v", v1, err)
	}
	if _, err := s.SwapKlarnaToken(ctx, u.ID, 0, "v1:sealed-x", "••••xxxx"); !errors.Is(err, db.ErrStale) {
		t.Errorf("a second insert from version 0: %v", err)
	}
	clk.Advance(time.Hour)
	v2, err := s.SwapKlarnaToken(ctx, u.ID, v1, "v1:sealed-b", "••••bbbb")
	if err != nil || v2 != 2 {
		t.Fatalf("swap: %d %v", v2, err)
	}
	if _, err := s.SwapKlarnaToken(ctx, u.ID, v1, "v1:sealed-c", "••••cccc"); !errors.Is(err, db.ErrStale) {
		t.Errorf("a stale swap: %v", err)
	}
	l, _ = s.KlarnaLink(ctx, u.ID)
	if l.Sealed != "v1:sealed-b" || l.Hint != "••••bbbb" || l.Version != 2 || !l.RefreshedAt.Equal(l.LinkedAt.Add(time.Hour)) {
		t.Errorf("after rotation: %+v", l)
	}
	if err := s.ClearKlarnaToken(ctx, u.ID, v1); !errors.Is(err, db.ErrStale) {
		t.Errorf("a stale clear: %v", err)
	}
	if err := s.ClearKlarnaToken(ctx, u.ID, v2); err != nil {
		t.Fatal(err)
	}
	l, _ = s.KlarnaLink(ctx, u.ID)
	if l.Linked() || l.Hint != "" || l.Version != 3 {
		t.Errorf("after unlink: %+v", l)
	}
	clk.Advance(time.Hour)
	if _, err := s.SwapKlarnaToken(ctx, u.ID, 3, "v1:sealed-d", "••••dddd"); err != nil {
		t.Fatal(err)
	}
	l, _ = s.KlarnaLink(ctx, u.ID)
	if l.Version != 4 || !l.LinkedAt.Equal(clk.Now()) {
		t.Errorf("relink: %+v", l)
	}
}

func TestKlarnaPaymentRoundTrip(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	o := placeOrder(t, s, db.NewOrder{GuestID: "g1", Provider: db.ProviderKlarna, IdempotencyKey: "attempt-1"})
	p := db.KlarnaPayment{OrderID: o.ID, Kind: db.KlarnaWidget, SessionID: "s1", ClientToken: "a.b.c", Intent: "buy", SentToken: true}
	if err := s.CreateKlarnaPayment(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.SetKlarnaCorrelationID(ctx, o.ID, "corr-1"); err != nil {
		t.Fatal(err)
	}
	got, err := s.KlarnaPaymentByOrder(ctx, o.ID)
	if err != nil || got.SessionID != "s1" || !got.SentToken || got.CorrelationID != "corr-1" || got.Kind != db.KlarnaWidget {
		t.Errorf("%+v %v", got, err)
	}
	if _, err := s.KlarnaPaymentByOrder(ctx, o.ID+1); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	byKey, err := s.OrderByIdempotencyKey(ctx, "attempt-1")
	if err != nil || byKey.ID != o.ID || len(byKey.Lines) != 1 {
		t.Errorf("by key: %+v %v", byKey, err)
	}
}
