package db_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"refshop/db"
)

func TestCreateAdminMakesAnAdministratorAndNeverTakesAnExistingEmail(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	u, err := s.CreateAdmin(ctx, "boss@example.com", "", "hash")
	if err != nil || !u.IsAdmin() {
		t.Fatalf("create admin: %+v, %v", u, err)
	}
	if got, _ := s.UserByEmail(ctx, "BOSS@example.com"); !got.IsAdmin() {
		t.Errorf("stored role %q, want admin", got.Role)
	}
	c, err := s.CreateUser(ctx, "tess@example.com", "Tess", "hash")
	if err != nil || c.IsAdmin() || c.Role != db.RoleCustomer {
		t.Fatalf("a sign-up made %+v, %v; want a customer", c, err)
	}
	if _, err := s.CreateAdmin(ctx, "tess@example.com", "", "hash"); !errors.Is(err, db.ErrEmailTaken) {
		t.Fatalf("CreateAdmin on a customer's email: %v, want ErrEmailTaken", err)
	}
	if got, _ := s.UserByEmail(ctx, "tess@example.com"); got.IsAdmin() {
		t.Error("the customer was promoted")
	}
}

// keyFor is a test's Idempotency-Key scheme: the order and the operation's
// number.
func keyFor(orderID int64) func(int) string {
	return func(n int) string { return fmt.Sprintf("order-%d-op-%d", orderID, n) }
}

func TestOperationsOneInFlightPerOrderAndOnlyOnTheFiguresSeen(t *testing.T) {
	s, clk := newStore(t)
	ctx := t.Context()
	o := placeOrder(t, s, db.NewOrder{GuestID: "g", Provider: db.ProviderVipps})
	if err := s.SetOrderAmounts(ctx, o.ID, db.Amounts{Authorized: 850}); err != nil {
		t.Fatal(err)
	}
	o, _ = s.OrderByPublicID(ctx, o.PublicID)
	if o.Amounts.Authorized != 850 || o.Amounts.ReportedAt.IsZero() || o.Amounts.Uncaptured() != 850 {
		t.Fatalf("amounts %+v", o.Amounts)
	}
	capture := db.NewOperation{OrderID: o.ID, Kind: db.OpCapture, Amount: 500, Currency: "EUR", Seen: o.Amounts, KeyFor: keyFor(o.ID)}
	op, err := s.StartOperation(ctx, capture)
	if err != nil || op.State != db.OpSent || op.Key != fmt.Sprintf("order-%d-op-1", o.ID) || op.Before != 0 {
		t.Fatalf("start: %+v, %v", op, err)
	}
	refund := db.NewOperation{OrderID: o.ID, Kind: db.OpRefund, Amount: 100, Currency: "EUR", Seen: o.Amounts, KeyFor: keyFor(o.ID)}
	if _, err := s.StartOperation(ctx, refund); !errors.Is(err, db.ErrBusy) {
		t.Fatalf("a second operation in flight: %v, want ErrBusy", err)
	}
	if err := s.FinishOperation(ctx, op.ID, db.OpUnknown, "no answer"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartOperation(ctx, refund); !errors.Is(err, db.ErrBusy) {
		t.Fatalf("beside an unknown operation: %v, want ErrBusy", err)
	}
	clk.Advance(time.Minute)
	if due, err := s.OperationsToSettle(ctx, db.ProviderVipps, clk.Now(), clk.Now(), 10); err != nil || len(due) != 1 || due[0].ID != op.ID {
		t.Fatalf("to settle: %+v, %v", due, err)
	}
	if due, _ := s.OperationsToSettle(ctx, db.ProviderKlarna, clk.Now(), clk.Now(), 10); len(due) != 0 {
		t.Fatalf("another provider's sweep sees %d operations", len(due))
	}
	if err := s.SetOrderAmounts(ctx, o.ID, db.Amounts{Authorized: 850, Captured: 500}); err != nil {
		t.Fatal(err)
	}
	if !op.Made(db.Amounts{Captured: 500}) || op.Made(db.Amounts{Captured: 499}) {
		t.Error("Made misjudges the capture")
	}
	if err := s.FinishOperation(ctx, op.ID, db.OpDone, "captured"); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishOperation(ctx, op.ID, db.OpRefused, "late"); !errors.Is(err, db.ErrStale) {
		t.Fatalf("finishing twice: %v, want ErrStale", err)
	}
	// Decided on the figures from before the capture: refused.
	if _, err := s.StartOperation(ctx, refund); !errors.Is(err, db.ErrStale) {
		t.Fatalf("on old figures: %v, want ErrStale", err)
	}
	o, _ = s.OrderByPublicID(ctx, o.PublicID)
	refund.Seen = o.Amounts
	op2, err := s.StartOperation(ctx, refund)
	if err != nil || op2.Key != fmt.Sprintf("order-%d-op-2", o.ID) || op2.Before != 0 {
		t.Fatalf("refund: %+v, %v", op2, err)
	}
	ops, err := s.OperationsByOrder(ctx, o.ID)
	if err != nil || len(ops) != 2 || ops[0].ID != op2.ID || ops[1].Answer != "captured" {
		t.Fatalf("operations: %+v, %v", ops, err)
	}
	// A stale report cannot shrink a total.
	if err := s.SetOrderAmounts(ctx, o.ID, db.Amounts{Authorized: 850}); err != nil {
		t.Fatal(err)
	}
	if o, _ = s.OrderByPublicID(ctx, o.PublicID); o.Amounts.Captured != 500 {
		t.Errorf("captured %d after a stale report, want 500", o.Amounts.Captured)
	}
}

func TestOperationsStartedAtOnceOnlyOneWins(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	o := placeOrder(t, s, db.NewOrder{GuestID: "g", Provider: db.ProviderVipps})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := s.StartOperation(ctx, db.NewOperation{OrderID: o.ID, Kind: db.OpCancel, Currency: "EUR", KeyFor: keyFor(o.ID)})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, db.ErrBusy):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d operations started at once, want 1", won)
	}
}

func TestAllOrdersNewestFirstWithTheCustomerAndWhatIsInFlight(t *testing.T) {
	s, clk := newStore(t)
	ctx := t.Context()
	u, _ := s.CreateUser(ctx, "tess@example.com", "", "hash")
	older := placeOrder(t, s, db.NewOrder{UserID: u.ID, Provider: db.ProviderVipps})
	clk.Advance(time.Second)
	newer := placeOrder(t, s, db.NewOrder{GuestID: "g", Provider: db.ProviderAltpay, IdempotencyKey: "k2"})
	if _, err := s.StartOperation(ctx, db.NewOperation{OrderID: older.ID, Kind: db.OpCancel, Currency: "EUR", KeyFor: keyFor(older.ID)}); err != nil {
		t.Fatal(err)
	}
	all, total, err := s.AllOrders(ctx, 1, 0)
	if err != nil || total != 2 || len(all) != 1 || all[0].PublicID != newer.PublicID || all[0].Email != "" || all[0].Busy {
		t.Fatalf("first page: %+v, %d, %v", all, total, err)
	}
	all, _, err = s.AllOrders(ctx, 1, 1)
	if err != nil || len(all) != 1 || all[0].PublicID != older.PublicID || all[0].Email != "tess@example.com" || !all[0].Busy {
		t.Fatalf("second page: %+v, %v", all, err)
	}
}

// An operation sent again is renewed: a sweep waiting for operations older
// than its wait leaves it alone until that wait has passed again, and one
// no longer in flight cannot be renewed.
func TestARenewedOperationIsLeftToItsRetry(t *testing.T) {
	s, clk := newStore(t)
	ctx := t.Context()
	o := placeOrder(t, s, db.NewOrder{GuestID: "g", Provider: db.ProviderVipps})
	if err := s.SetOrderAmounts(ctx, o.ID, db.Amounts{Authorized: 850}); err != nil {
		t.Fatal(err)
	}
	o, _ = s.OrderByPublicID(ctx, o.PublicID)
	op, err := s.StartOperation(ctx, db.NewOperation{OrderID: o.ID, Kind: db.OpCapture, Amount: 850, Currency: "EUR", Seen: o.Amounts, KeyFor: keyFor(o.ID)})
	if err != nil {
		t.Fatal(err)
	}
	const wait = 3 * time.Minute
	clk.Advance(wait + time.Second)
	if due, _ := s.OperationsToSettle(ctx, db.ProviderVipps, clk.Now().Add(-wait), clk.Now(), 10); len(due) != 1 {
		t.Fatalf("%d due before the retry, want 1", len(due))
	}
	if err := s.RenewOperation(ctx, op.ID); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.OperationsToSettle(ctx, db.ProviderVipps, clk.Now().Add(-wait), clk.Now(), 10); len(due) != 0 {
		t.Fatalf("%d due right after the retry, want 0", len(due))
	}
	clk.Advance(wait + time.Second)
	if due, _ := s.OperationsToSettle(ctx, db.ProviderVipps, clk.Now().Add(-wait), clk.Now(), 10); len(due) != 1 {
		t.Fatalf("%d due a wait after the retry, want 1", len(due))
	}
	if err := s.FinishOperation(ctx, op.ID, db.OpDone, "made"); err != nil {
		t.Fatal(err)
	}
	if err := s.RenewOperation(ctx, op.ID); !errors.Is(err, db.ErrStale) {
		t.Fatalf("renewing a finished operation: %v, want ErrStale", err)
	}
}

// An operation the sweep fails to settle waits (OperationSettleFailed): the
// next pass, limited to one, takes the newer one behind it instead of the
// same one again (before, the oldest came first every time, so a batch of
// operations that cannot be settled held back every newer one).
func TestAnOperationThatFailsToSettleDoesNotHoldBackTheNext(t *testing.T) {
	s, clk := newStore(t)
	ctx := t.Context()
	start := func(key string) db.Operation {
		o := placeOrder(t, s, db.NewOrder{GuestID: "g", Provider: db.ProviderVipps, IdempotencyKey: key})
		op, err := s.StartOperation(ctx, db.NewOperation{OrderID: o.ID, Kind: db.OpCancel, Currency: "EUR", KeyFor: keyFor(o.ID)})
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		return op
	}
	stuck, next := start("k1"), start("k2")
	due, err := s.OperationsToSettle(ctx, db.ProviderVipps, clk.Now(), clk.Now(), 1)
	if err != nil || len(due) != 1 || due[0].ID != stuck.ID {
		t.Fatalf("first pass: %+v, %v; want the older", due, err)
	}
	tries, err := s.OperationSettleFailed(ctx, stuck.ID, clk.Now().Add(time.Minute))
	if err != nil || tries != 1 {
		t.Fatalf("failed: %d, %v", tries, err)
	}
	if due, _ = s.OperationsToSettle(ctx, db.ProviderVipps, clk.Now(), clk.Now(), 1); len(due) != 1 || due[0].ID != next.ID {
		t.Fatalf("second pass: %+v; want the newer one, not the one that failed", due)
	}
	clk.Advance(time.Minute)
	if due, _ = s.OperationsToSettle(ctx, db.ProviderVipps, clk.Now(), clk.Now(), 2); len(due) != 2 || due[0].ID != next.ID {
		t.Fatalf("once its wait is over: %+v; want both, the one that failed last", due)
	}
	if op, _ := s.OperationByID(ctx, stuck.ID); op.SettleTries != 1 {
		t.Errorf("tries %d, want 1", op.SettleTries)
	}
}

// The form an operation was asked from finds it again: the same page's form
// sent twice is one operation; another kind, or another page, is not.
func TestOperationByFormFindsTheOperationOfThatPage(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	o := placeOrder(t, s, db.NewOrder{GuestID: "g", Provider: db.ProviderVipps})
	op, err := s.StartOperation(ctx, db.NewOperation{OrderID: o.ID, Kind: db.OpCancel, Currency: "EUR", FormKey: "page-1", KeyFor: keyFor(o.ID)})
	if err != nil || op.FormKey != "page-1" {
		t.Fatalf("start: %+v, %v", op, err)
	}
	if got, err := s.OperationByForm(ctx, o.ID, db.OpCancel, "page-1"); err != nil || got.ID != op.ID {
		t.Fatalf("by form: %+v, %v", got, err)
	}
	for _, tc := range []struct {
		kind db.OperationKind
		form string
	}{{db.OpCapture, "page-1"}, {db.OpCancel, "page-2"}, {db.OpCancel, ""}} {
		if _, err := s.OperationByForm(ctx, o.ID, tc.kind, tc.form); !errors.Is(err, db.ErrNotFound) {
			t.Errorf("%s from %q: %v, want ErrNotFound", tc.kind, tc.form, err)
		}
	}
}
