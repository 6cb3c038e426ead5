package db_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
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
	l, err := s.KlarnaLink(ctx, klarnaSandbox, u.ID)
	if err != nil || l.Linked() || l.Version != 0 {
		t.Fatalf("fresh user: %+v %v", l, err)
	}
	v1, err := s.SwapKlarnaToken(ctx, klarnaSandbox, u.ID, 0, "v1:sealed-a", "••••aaaa")
	if err != nil || v1 != 1 {
		t.Fatalf("insert: %d %v", v1, err)
	}
	if _, err := s.SwapKlarnaToken(ctx, klarnaSandbox, u.ID, 0, "v1:sealed-x", "••••xxxx"); !errors.Is(err, db.ErrStale) {
		t.Errorf("a second insert from version 0: %v", err)
	}
	clk.Advance(time.Hour)
	v2, err := s.SwapKlarnaToken(ctx, klarnaSandbox, u.ID, v1, "v1:sealed-b", "••••bbbb")
	if err != nil || v2 != 2 {
		t.Fatalf("swap: %d %v", v2, err)
	}
	if _, err := s.SwapKlarnaToken(ctx, klarnaSandbox, u.ID, v1, "v1:sealed-c", "••••cccc"); !errors.Is(err, db.ErrStale) {
		t.Errorf("a stale swap: %v", err)
	}
	l, _ = s.KlarnaLink(ctx, klarnaSandbox, u.ID)
	if l.Sealed != "v1:sealed-b" || l.Hint != "••••bbbb" || l.Version != 2 || !l.RefreshedAt.Equal(l.LinkedAt.Add(time.Hour)) {
		t.Errorf("after rotation: %+v", l)
	}
	if err := s.ClearKlarnaToken(ctx, klarnaSandbox, u.ID, v1); !errors.Is(err, db.ErrStale) {
		t.Errorf("a stale clear: %v", err)
	}
	if err := s.ClearKlarnaToken(ctx, klarnaSandbox, u.ID, v2); err != nil {
		t.Fatal(err)
	}
	l, _ = s.KlarnaLink(ctx, klarnaSandbox, u.ID)
	if l.Linked() || l.Hint != "" || l.Version != 3 {
		t.Errorf("after unlink: %+v", l)
	}
	clk.Advance(time.Hour)
	if _, err := s.SwapKlarnaToken(ctx, klarnaSandbox, u.ID, 3, "v1:sealed-d", "••••dddd"); err != nil {
		t.Fatal(err)
	}
	l, _ = s.KlarnaLink(ctx, klarnaSandbox, u.ID)
	if l.Version != 4 || !l.LinkedAt.Equal(clk.Now()) {
		t.Errorf("relink: %+v", l)
	}
}

// The Klarna environments the tests keep links under: the sandbox's API
// base URL and the real test environment's.
const (
	klarnaSandbox = "http://localhost:8081/klarna/api"
	klarnaReal    = "https://api.playground.klarna.com"
)

// A link belongs to the Klarna environment it was made in: invisible from
// another, which keeps links (and versions) of its own, and untouched by it.
func TestKlarnaLinksArePerEnvironment(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "a@example.com", "A", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SwapKlarnaToken(ctx, klarnaSandbox, u.ID, 0, "v1:sealed-sandbox", "••••sand"); err != nil {
		t.Fatal(err)
	}
	l, err := s.KlarnaLink(ctx, klarnaReal, u.ID)
	if err != nil || l.Linked() || l.Version != 0 {
		t.Fatalf("the sandbox's link seen from the real environment: %+v %v", l, err)
	}
	if err := s.ClearKlarnaToken(ctx, klarnaReal, u.ID, 1); !errors.Is(err, db.ErrStale) {
		t.Errorf("unlinking in the real environment: %v, want ErrStale (nothing linked there)", err)
	}
	if _, err := s.SwapKlarnaToken(ctx, klarnaReal, u.ID, 0, "v1:sealed-real", "••••real"); err != nil {
		t.Fatalf("linking in the real environment: %v", err)
	}
	for env, want := range map[string]string{klarnaSandbox: "v1:sealed-sandbox", klarnaReal: "v1:sealed-real"} {
		if l, err := s.KlarnaLink(ctx, env, u.ID); err != nil || l.Sealed != want || l.Version != 1 {
			t.Errorf("%s: %+v %v, want %s at version 1", env, l, err, want)
		}
	}
}

func TestKlarnaPaymentRoundTrip(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	o := placeOrder(t, s, db.NewOrder{GuestID: "g1", Provider: db.ProviderKlarna, IdempotencyKey: "attempt-1"})
	p := db.KlarnaPayment{OrderID: o.ID, Environment: klarnaSandbox, Kind: db.KlarnaWidget, SessionID: "s1", ClientToken: "a.b.c", Intent: "buy", SentToken: true}
	if err := s.CreateKlarnaPayment(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.SetKlarnaCorrelationID(ctx, o.ID, "corr-1"); err != nil {
		t.Fatal(err)
	}
	got, err := s.KlarnaPaymentByOrder(ctx, o.ID)
	if err != nil || got.Environment != klarnaSandbox || got.SessionID != "s1" || !got.SentToken || got.CorrelationID != "corr-1" || got.Kind != db.KlarnaWidget {
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

// An attempt is submitted once; the sweep lists it when due, in order, while
// it is pending or paid without Klarna's id, and stops after maxTries.
func TestKlarnaSubmissionAndSettling(t *testing.T) {
	s, clk := newStore(t)
	ctx := context.Background()
	now := clk.Now()
	attempt := func(key string) db.Order {
		o := placeOrder(t, s, db.NewOrder{GuestID: "g-" + key, Provider: db.ProviderKlarna, IdempotencyKey: key})
		if err := s.CreateKlarnaPayment(ctx, db.KlarnaPayment{OrderID: o.ID, Environment: klarnaSandbox, Kind: db.KlarnaWidget, SessionID: "s-" + key,
			SettleAfter: now.Add(48 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		return o
	}
	a, b := attempt("a"), attempt("b")
	sub := db.KlarnaSubmission{Key: "key-a", Request: `{"order_amount":1}`, Authorization: "v1:sealed"}
	if err := s.SubmitKlarnaOrder(ctx, a.ID, sub, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.SubmitKlarnaOrder(ctx, a.ID, db.KlarnaSubmission{Key: "key-x", Request: "{}"}, now); !errors.Is(err, db.ErrStale) {
		t.Errorf("a second submission: %v, want ErrStale", err)
	}
	if got, err := s.KlarnaPaymentByOrder(ctx, a.ID); err != nil || got.KlarnaSubmission != sub || !got.Submitted() ||
		!got.SettleAfter.Equal(now.Add(2*time.Minute)) {
		t.Fatalf("after submitting: %+v %v", got, err)
	}
	due := func(at time.Time, want ...string) {
		t.Helper()
		ids, err := s.KlarnaAttemptsToSettle(ctx, klarnaSandbox, at, 3, 10)
		var names []string
		for _, id := range ids {
			switch id {
			case a.PublicID:
				names = append(names, "a")
			case b.PublicID:
				names = append(names, "b")
			}
		}
		if err != nil || strings.Join(names, ",") != strings.Join(want, ",") {
			t.Errorf("due at %v: %v %v, want %v", at.Sub(now), names, err, want)
		}
	}
	due(now.Add(time.Minute))
	due(now.Add(2*time.Minute), "a")
	due(now.Add(48*time.Hour), "a", "b")

	for i := 1; i <= 3; i++ {
		if tries, err := s.KlarnaSettleFailed(ctx, a.ID, now.Add(time.Duration(i)*time.Hour)); err != nil || tries != i {
			t.Fatalf("failed try %d: %d %v", i, tries, err)
		}
	}
	due(now.Add(72*time.Hour), "b") // a: 3 tries, left for a person

	if err := s.WithdrawKlarnaOrder(ctx, a.ID, "key-x", now); !errors.Is(err, db.ErrStale) {
		t.Errorf("withdrawing another submission: %v", err)
	}
	if err := s.WithdrawKlarnaOrder(ctx, a.ID, "key-a", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.KlarnaPaymentByOrder(ctx, a.ID); got.Submitted() || got.Authorization != "" || got.Request != "" {
		t.Errorf("after withdrawing: %+v", got)
	}

	// Paid without Klarna's id: still listed until the id is found.
	if err := s.SetOrderStatusPaid(ctx, b.ID, db.StatusPending, db.StatusAuthorized, "confirmation lost"); err != nil {
		t.Fatal(err)
	}
	due(now.Add(48*time.Hour), "b")
	if err := s.SetKlarnaOrderFound(ctx, b.ID, "klarna-order-1", "Klarna approved the payment."); err != nil {
		t.Fatal(err)
	}
	if err := s.SetKlarnaOrderFound(ctx, b.ID, "klarna-order-2", "again"); !errors.Is(err, db.ErrStale) {
		t.Errorf("a second id: %v", err)
	}
	o, _ := s.OrderByPublicID(ctx, b.PublicID)
	kp, _ := s.KlarnaPaymentByOrder(ctx, b.ID)
	if o.ProviderReference != "klarna-order-1" || o.StatusDetail != "Klarna approved the payment." || !kp.SettleAfter.IsZero() {
		t.Errorf("found: %q %q, settle after %v", o.ProviderReference, o.StatusDetail, kp.SettleAfter)
	}
	due(now.Add(100 * time.Hour))
}

// An attempt belongs to the Klarna API it was made at: the sweep of another
// environment never lists it, and one with no environment is refused.
func TestKlarnaPaymentsArePerEnvironment(t *testing.T) {
	s, clk := newStore(t)
	ctx := context.Background()
	o := placeOrder(t, s, db.NewOrder{GuestID: "g1", Provider: db.ProviderKlarna})
	if err := s.CreateKlarnaPayment(ctx, db.KlarnaPayment{OrderID: o.ID, Environment: klarnaSandbox, Kind: db.KlarnaWidget,
		SessionID: "s1", SettleAfter: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	now := clk.Now().Add(time.Hour)
	if due, err := s.KlarnaAttemptsToSettle(ctx, klarnaSandbox, now, 3, 10); err != nil || len(due) != 1 || due[0] != o.PublicID {
		t.Fatalf("due in its own environment: %v %v", due, err)
	}
	if due, err := s.KlarnaAttemptsToSettle(ctx, klarnaReal, now, 3, 10); err != nil || len(due) != 0 {
		t.Errorf("due in another environment: %v %v, want none", due, err)
	}
	other := placeOrder(t, s, db.NewOrder{GuestID: "g2", Provider: db.ProviderKlarna})
	if err := s.CreateKlarnaPayment(ctx, db.KlarnaPayment{OrderID: other.ID, Kind: db.KlarnaWidget, SessionID: "s2"}); err == nil {
		t.Error("an attempt with no environment was stored")
	}
}

// A session's payment_method_categories are kept with its attempt, in
// Klarna's order and with Klarna's names; an attempt without them reads nil.
func TestKlarnaPaymentKeepsTheSessionsCategories(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	o := placeOrder(t, s, db.NewOrder{GuestID: "g1", Provider: db.ProviderKlarna, IdempotencyKey: "attempt-c"})
	cats := []db.KlarnaCategory{{Identifier: "pay_later", Name: "Pay later."}, {Identifier: "pay_over_time", Name: "Financing"}}
	if err := s.CreateKlarnaPayment(ctx, db.KlarnaPayment{OrderID: o.ID, Environment: klarnaSandbox, Kind: db.KlarnaWidget,
		SessionID: "s1", Categories: cats}); err != nil {
		t.Fatal(err)
	}
	got, err := s.KlarnaPaymentByOrder(ctx, o.ID)
	if err != nil || !reflect.DeepEqual(got.Categories, cats) {
		t.Errorf("categories %+v %v", got.Categories, err)
	}
	o2 := placeOrder(t, s, db.NewOrder{GuestID: "g2", Provider: db.ProviderKlarna, IdempotencyKey: "attempt-d"})
	if err := s.CreateKlarnaPayment(ctx, db.KlarnaPayment{OrderID: o2.ID, Environment: klarnaSandbox, Kind: db.KlarnaWidget}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.KlarnaPaymentByOrder(ctx, o2.ID); err != nil || got.Categories != nil {
		t.Errorf("no categories: %+v %v", got.Categories, err)
	}
}

// The callback token round-trips; create order's fraud_status is recorded
// once; the end of a review is recorded once and moves only an authorized
// order.
func TestKlarnaFraudStatusAndCallbackToken(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	attempt := func(key string) db.Order {
		o := placeOrder(t, s, db.NewOrder{GuestID: "g-" + key, Provider: db.ProviderKlarna, IdempotencyKey: key})
		if err := s.CreateKlarnaPayment(ctx, db.KlarnaPayment{OrderID: o.ID, Environment: klarnaSandbox, Kind: db.KlarnaWidget,
			SessionID: "s-" + key, CallbackToken: "v1:sealed-" + key}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetOrderStatusPaid(ctx, o.ID, db.StatusPending, db.StatusAuthorized, "Klarna is reviewing this order."); err != nil {
			t.Fatal(err)
		}
		return o
	}
	fraud := func(o db.Order) (db.Order, string) {
		t.Helper()
		kp, err := s.KlarnaPaymentByOrder(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		cur, err := s.OrderByPublicID(ctx, o.PublicID)
		if err != nil {
			t.Fatal(err)
		}
		return cur, kp.FraudStatus
	}
	a, b := attempt("a"), attempt("b")
	if kp, _ := s.KlarnaPaymentByOrder(ctx, a.ID); kp.CallbackToken != "v1:sealed-a" || kp.FraudStatus != "" {
		t.Fatalf("new attempt: token %q fraud %q", kp.CallbackToken, kp.FraudStatus)
	}
	for _, st := range []string{"PENDING", "ACCEPTED"} { // the second is a late copy of the answer
		if err := s.SetKlarnaFraudStatus(ctx, a.ID, st); err != nil {
			t.Fatal(err)
		}
	}
	if _, f := fraud(a); f != "PENDING" {
		t.Fatalf("fraud %q, want the first answer's PENDING", f)
	}
	if _, err := s.KlarnaFraudDecided(ctx, a.ID, "ACCEPTED", false, "accepted", ""); err != nil {
		t.Fatal(err)
	}
	if o, f := fraud(a); f != "ACCEPTED" || o.Status != db.StatusAuthorized || o.StatusDetail != "accepted" {
		t.Errorf("accepted: %s %q %q", o.Status, o.StatusDetail, f)
	}
	if _, err := s.KlarnaFraudDecided(ctx, a.ID, "ACCEPTED", false, "again", ""); !errors.Is(err, db.ErrStale) {
		t.Errorf("a repeated decision: %v, want ErrStale", err)
	}
	if o, _ := fraud(a); o.StatusDetail != "accepted" {
		t.Errorf("a repeated decision changed the detail: %q", o.StatusDetail)
	}

	_ = s.SetKlarnaFraudStatus(ctx, b.ID, "PENDING")
	if after, err := s.KlarnaFraudDecided(ctx, b.ID, "REJECTED", true, "rejected", "captured"); err != nil || after {
		t.Fatal(err)
	}
	if o, f := fraud(b); f != "REJECTED" || o.Status != db.StatusCancelled || o.StatusDetail != "rejected" {
		t.Errorf("rejected: %s %q %q", o.Status, o.StatusDetail, f)
	}
	// An order no longer authorized (captured, cancelled) keeps its status.
	c := attempt("c")
	if err := s.SetOrderStatus(ctx, c.ID, db.StatusAuthorized, db.StatusCaptured, "shipped"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KlarnaFraudDecided(ctx, c.ID, "REJECTED", true, "rejected", "captured"); err != nil {
		t.Fatal(err)
	}
	if o, f := fraud(c); o.Status != db.StatusCaptured || o.StatusDetail != "shipped" || f != "REJECTED" {
		t.Errorf("captured: %s %q %q", o.Status, o.StatusDetail, f)
	}
}

// A rejection of an order partly captured (Klarna's review ended after
// part of it shipped) never cancels it: money was taken. It keeps its
// status and says what happened.
func TestKlarnaRejectionAfterACaptureKeepsTheOrder(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	o := placeOrder(t, s, db.NewOrder{GuestID: "g-r", Provider: db.ProviderKlarna, IdempotencyKey: "r"})
	if err := s.CreateKlarnaPayment(ctx, db.KlarnaPayment{OrderID: o.ID, Environment: klarnaSandbox, Kind: db.KlarnaWidget,
		SessionID: "s-r", CallbackToken: "v1:sealed-r"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOrderStatusPaid(ctx, o.ID, db.StatusPending, db.StatusAuthorized, "Klarna is reviewing this order."); err != nil {
		t.Fatal(err)
	}
	_ = s.SetKlarnaFraudStatus(ctx, o.ID, "PENDING")
	if err := s.SetOrderAmounts(ctx, o.ID, db.Amounts{Authorized: 5000, Captured: 2000}); err != nil {
		t.Fatal(err)
	}
	after, err := s.KlarnaFraudDecided(ctx, o.ID, "REJECTED", true, "rejected", "rejected after a capture")
	if err != nil || !after {
		t.Fatalf("decided: %v %v, want reported as after a capture", after, err)
	}
	cur, err := s.OrderByPublicID(ctx, o.PublicID)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Status != db.StatusAuthorized || cur.StatusDetail != "rejected after a capture" {
		t.Errorf("a partly captured order after a rejection: %s %q, want authorized with the detail for it", cur.Status, cur.StatusDetail)
	}
	if kp, _ := s.KlarnaPaymentByOrder(ctx, o.ID); kp.FraudStatus != "REJECTED" {
		t.Errorf("fraud status %q, want REJECTED recorded", kp.FraudStatus)
	}
}
