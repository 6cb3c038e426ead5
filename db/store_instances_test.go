package db_test

import (
	"context"
	"sync"
	"testing"

	"refshop/db"
)

// Read-then-write transactions stay right when two instances run them at
// once on one database (on SQLite one at a time; on PostgreSQL serializable
// and run again after a conflict: Store.tx).

func TestSubmitsFromTwoInstancesMakeOneAttempt(t *testing.T) {
	a, b, _ := twoProcesses(t)
	uid, cart := userCart(t, a, "a@example.com")
	var wg sync.WaitGroup
	ids := make([]int64, 30)
	for i := range ids {
		s := []*db.Store{a, b}[i%2]
		wg.Go(func() {
			o, _, err := s.OpenAttempt(context.Background(), cartAttempt(uid, cart, db.ProviderVipps, sencha))
			if err != nil {
				t.Error(err)
			}
			ids[i] = o.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent submits made attempts %v, want one", ids)
		}
	}
}

// Two tabs submitting two versions of the cart at once: each submit either
// reuses the open attempt or closes it and opens its own; in the end there
// is exactly one open attempt, and every other one is closed as replaced.
func TestChangedCartSubmitsFromTwoInstancesLeaveOneOpenAttempt(t *testing.T) {
	a, b, _ := twoProcesses(t)
	uid, cart := userCart(t, a, "a@example.com")
	mug := db.OrderLine{ProductID: "stoneware-mug", Name: "Mug", Quantity: 1, UnitPrice: 1400, TaxRate: 1900, TotalAmount: 1400, TotalTaxAmount: 224}
	var wg sync.WaitGroup
	var mu sync.Mutex
	made := map[int64]bool{}
	for i := range 30 {
		s := []*db.Store{a, b}[i%2]
		line := []db.OrderLine{sencha, mug}[i%3%2]
		wg.Go(func() {
			o, _, err := s.OpenAttempt(context.Background(), cartAttempt(uid, cart, db.ProviderVipps, line))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			made[o.ID] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	open := 0
	for id := range made {
		o, err := a.OrderByID(context.Background(), id)
		must(t, err)
		switch {
		case o.Status == db.StatusPending:
			open++
		case o.Status != db.StatusCancelled || o.StatusDetail != db.DetailReplaced:
			t.Errorf("attempt %d: %s %q, want pending or cancelled as replaced", id, o.Status, o.StatusDetail)
		}
	}
	if open != 1 {
		t.Fatalf("%d open attempts for one cart and method, want 1", open)
	}
}

// One person signing in on several tabs at once, each with its own guest
// cart, served by two instances: one account cart, holding every guest
// cart's lines.
func TestSignInsFromTwoInstancesAdoptOneCart(t *testing.T) {
	a, b, _ := twoProcesses(t)
	ctx := context.Background()
	u, err := a.CreateUser(ctx, "a@example.com", "", "h")
	must(t, err)
	guests := make([]int64, 10)
	for i := range guests {
		guests[i], err = a.NewCart(ctx)
		must(t, err)
		must(t, a.AddToCart(ctx, guests[i], "sencha", 1))
	}
	var wg sync.WaitGroup
	carts := make([]int64, len(guests))
	for i, g := range guests {
		s := []*db.Store{a, b}[i%2]
		wg.Go(func() {
			c, err := s.AdoptCart(ctx, u.ID, g)
			if err != nil {
				t.Error(err)
			}
			carts[i] = c
		})
	}
	wg.Wait()
	for _, c := range carts {
		if c != carts[0] {
			t.Fatalf("sign-ins adopted carts %v, want one", carts)
		}
	}
	items, err := a.CartItems(ctx, carts[0])
	must(t, err)
	if len(items) != 1 || items[0].Quantity != len(guests) {
		t.Fatalf("the account's cart holds %+v, want %d sencha", items, len(guests))
	}
}
