package db_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"refshop/db"
)

// cartAttempt is the NewOrder of a user's cart for provider, in EUR.
func cartAttempt(userID, cartID int64, provider db.Provider, lines ...db.OrderLine) db.NewOrder {
	return db.NewOrder{UserID: userID, CartID: cartID, Provider: provider, Market: "de", Currency: "EUR", Lines: lines}
}

func userCart(t *testing.T, s *db.Store, email string) (userID, cartID int64) {
	t.Helper()
	u, err := s.CreateUser(t.Context(), email, "", "h")
	must(t, err)
	cart, err := s.AdoptCart(t.Context(), u.ID, 0)
	must(t, err)
	return u.ID, cart
}

func TestOpenAttemptReturnsTheOpenAttemptOfTheCartAndMethod(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	uid, cart := userCart(t, s, "a@example.com")
	first, reused, err := s.OpenAttempt(ctx, cartAttempt(uid, cart, db.ProviderAltpay, teaAndCarafe...))
	if err != nil || reused {
		t.Fatalf("first: reused %v, %v", reused, err)
	}
	// The same lines in another order are the same purchase.
	again, reused, err := s.OpenAttempt(ctx, cartAttempt(uid, cart, db.ProviderAltpay, teaAndCarafe[1], teaAndCarafe[0]))
	if err != nil || !reused || again.ID != first.ID || again.IdempotencyKey != first.IdempotencyKey || len(again.Lines) != 2 {
		t.Fatalf("second submit: %+v reused %v, %v; want order %d again", again, reused, err, first.ID)
	}
	other, reused, err := s.OpenAttempt(ctx, cartAttempt(uid, cart, db.ProviderVipps, teaAndCarafe...))
	if err != nil || reused || other.ID == first.ID {
		t.Fatalf("another method: %+v reused %v, %v; want an attempt of its own", other, reused, err)
	}
	due, err := s.AttemptsToRelease(ctx, 0, 10)
	if err != nil || len(due) != 0 {
		t.Errorf("attempts to release: %+v, %v; want none", due, err)
	}
}

func TestOpenAttemptReplacesTheOpenAttemptWhenTheCartChanged(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	uid, cart := userCart(t, s, "a@example.com")
	old, _, err := s.OpenAttempt(ctx, cartAttempt(uid, cart, db.ProviderAltpay, sencha))
	must(t, err)
	next, reused, err := s.OpenAttempt(ctx, cartAttempt(uid, cart, db.ProviderAltpay, teaAndCarafe...))
	if err != nil || reused || next.ID == old.ID || next.Status != db.StatusPending {
		t.Fatalf("after the cart changed: %+v reused %v, %v", next, reused, err)
	}
	got, err := s.OrderByPublicID(ctx, old.PublicID)
	must(t, err)
	if got.Status != db.StatusCancelled || got.StatusDetail != db.DetailReplaced {
		t.Errorf("the replaced attempt is %s %q, want cancelled %q", got.Status, got.StatusDetail, db.DetailReplaced)
	}
	due, err := s.AttemptsToRelease(ctx, cart, 10)
	if err != nil || len(due) != 1 || due[0].ID != old.ID {
		t.Fatalf("attempts to release: %+v, %v; want the replaced one", due, err)
	}
	must(t, s.AttemptReleased(ctx, old.ID))
	if due, _ := s.AttemptsToRelease(ctx, 0, 10); len(due) != 0 {
		t.Errorf("still due after release: %+v", due)
	}
}

// A guest's cart becomes the account's at sign-in: the guest's open attempt
// is not handed to the account.
func TestOpenAttemptIsTheOwnersOnly(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	cart, err := s.NewCart(ctx)
	must(t, err)
	guests, _, err := s.OpenAttempt(ctx, db.NewOrder{GuestID: "g1", CartID: cart, Provider: db.ProviderVipps, Market: "de", Currency: "EUR", Lines: []db.OrderLine{sencha}})
	must(t, err)
	u, _ := s.CreateUser(ctx, "a@example.com", "", "h")
	if adopted, err := s.AdoptCart(ctx, u.ID, cart); err != nil || adopted != cart {
		t.Fatalf("adopt: %d, %v", adopted, err)
	}
	users, reused, err := s.OpenAttempt(ctx, cartAttempt(u.ID, cart, db.ProviderVipps, sencha))
	if err != nil || reused || users.ID == guests.ID || users.UserID != u.ID {
		t.Fatalf("the account's attempt: %+v reused %v, %v", users, reused, err)
	}
	if got, _ := s.OrderByPublicID(ctx, guests.PublicID); got.Status != db.StatusCancelled {
		t.Errorf("the guest's attempt is %s, want cancelled", got.Status)
	}
}

// The rule holds in the database, not only in OpenAttempt: a second pending
// order for the same cart and method cannot be stored.
func TestTwoOpenAttemptsForOneCartAndMethodCannotBeStored(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	uid, cart := userCart(t, s, "a@example.com")
	placeOrder(t, s, cartAttempt(uid, cart, db.ProviderAltpay))
	if _, err := s.CreateOrder(ctx, cartAttempt(uid, cart, db.ProviderAltpay, sencha)); err == nil {
		t.Fatal("a second open attempt for the cart and method was stored")
	}
	// A closed one does not count.
	o := placeOrder(t, s, cartAttempt(uid, cart, db.ProviderVipps))
	must(t, s.CloseAttempt(ctx, o.ID, db.StatusFailed, "Nothing was charged."))
	placeOrder(t, s, cartAttempt(uid, cart, db.ProviderVipps))
	if err := s.CloseAttempt(ctx, o.ID, db.StatusCancelled, "again"); !errors.Is(err, db.ErrStale) {
		t.Errorf("closing a closed attempt: %v, want ErrStale", err)
	}
}

func TestConcurrentSubmitsMakeOneAttempt(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	uid, cart := userCart(t, s, "a@example.com")
	var wg sync.WaitGroup
	ids := make([]int64, 20)
	for i := range ids {
		wg.Go(func() {
			o, _, err := s.OpenAttempt(ctx, cartAttempt(uid, cart, db.ProviderAltpay, sencha))
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

func TestPayingAnAttemptClosesTheOtherOpenAttemptsOfItsCart(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	uid, cart := userCart(t, s, "a@example.com")
	_, otherCart := userCart(t, s, "b@example.com")
	must(t, s.AddToCart(ctx, cart, "sencha", 1))
	invoice := placeOrder(t, s, cartAttempt(uid, cart, db.ProviderAltpay))
	vipps := placeOrder(t, s, cartAttempt(uid, cart, db.ProviderVipps))
	klarna := placeOrder(t, s, cartAttempt(uid, cart, db.ProviderKlarna))
	must(t, s.CloseAttempt(ctx, klarna.ID, db.StatusFailed, "Klarna refused."))
	must(t, s.AttemptReleased(ctx, klarna.ID))
	elsewhere := placeOrder(t, s, cartAttempt(uid, otherCart, db.ProviderAltpay))

	must(t, s.SetOrderStatusPaid(ctx, vipps.ID, db.StatusPending, db.StatusCaptured, "Paid."))
	for _, c := range []struct {
		o      db.Order
		status db.Status
		detail string
	}{
		{invoice, db.StatusCancelled, db.DetailClosedPaid},
		{vipps, db.StatusCaptured, "Paid."},
		{klarna, db.StatusFailed, "Klarna refused."},
		{elsewhere, db.StatusPending, ""},
	} {
		got, err := s.OrderByPublicID(ctx, c.o.PublicID)
		if err != nil || got.Status != c.status || got.StatusDetail != c.detail {
			t.Errorf("order %d (%s): %s %q, %v; want %s %q", c.o.ID, c.o.Provider, got.Status, got.StatusDetail, err, c.status, c.detail)
		}
	}
	due, err := s.AttemptsToRelease(ctx, 0, 10)
	if err != nil || len(due) != 1 || due[0].ID != invoice.ID {
		t.Fatalf("attempts to release: %+v, %v; want the closed invoice attempt only", due, err)
	}
}

// A person who switches market re-prices the cart: the open attempt in the
// old market's currency is not paid in the new one.
func TestOpenAttemptReplacesTheOpenAttemptOfAnotherMarket(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	uid, cart := userCart(t, s, "a@example.com")
	de, _, err := s.OpenAttempt(ctx, cartAttempt(uid, cart, db.ProviderKlarna, sencha))
	must(t, err)
	untaxed := db.OrderLine{ProductID: "sencha", Name: "Sencha", Quantity: 1, UnitPrice: 899, TotalAmount: 899}
	n := db.NewOrder{UserID: uid, CartID: cart, Provider: db.ProviderKlarna, Market: "us", Currency: "USD",
		Lines: []db.OrderLine{untaxed}, SalesTax: 74}
	us, reused, err := s.OpenAttempt(ctx, n)
	if err != nil || reused || us.ID == de.ID {
		t.Fatalf("in another market: %+v reused %v, %v; want a new attempt", us, reused, err)
	}
	got, err := s.OrderByPublicID(ctx, us.PublicID)
	must(t, err)
	if got.Market != "us" || got.Currency != "USD" || got.SalesTax != 74 || got.TaxAmount != 74 || got.TotalAmount != 899+74 {
		t.Errorf("stored US order: market %q %s, sales tax %d, tax %d, total %d; want us USD 74 74 973",
			got.Market, got.Currency, got.SalesTax, got.TaxAmount, got.TotalAmount)
	}
	// The same cart at another sales tax (the rate changed) is another price.
	n.SalesTax = 75
	if again, reused, err := s.OpenAttempt(ctx, n); err != nil || reused || again.ID == us.ID {
		t.Fatalf("another sales tax: %+v reused %v, %v; want a new attempt", again, reused, err)
	}
}

func TestCreateOrderRefusesVATAndSalesTaxTogether(t *testing.T) {
	s, _ := newStore(t)
	uid, cart := userCart(t, s, "a@example.com")
	n := cartAttempt(uid, cart, db.ProviderKlarna, sencha)
	n.SalesTax = 10
	if _, err := s.CreateOrder(t.Context(), n); err == nil {
		t.Error("an order with VAT in its lines and sales tax on top was stored")
	}
	n = cartAttempt(uid, cart, db.ProviderKlarna, sencha)
	n.Market = ""
	if _, err := s.CreateOrder(t.Context(), n); err == nil {
		t.Error("an order without a market was stored")
	}
}

func TestOpenAttemptsByKeyFindsTheUsersOpenOnesWithThePrefix(t *testing.T) {
	s, _ := newStore(t)
	ctx := t.Context()
	uid, _ := userCart(t, s, "a@example.com")
	other, _ := userCart(t, s, "b@example.com")
	mk := func(user int64, key string) db.Order {
		return placeOrder(t, s, db.NewOrder{UserID: user, Provider: db.ProviderKlarna, IdempotencyKey: key})
	}
	first := mk(uid, "again:1:x")
	second := mk(uid, "again:1:y")
	mk(uid, "cart-attempt")                                                         // another prefix
	mk(other, "again:1:z")                                                          // another user
	must(t, s.SetOrderStatus(ctx, first.ID, db.StatusPending, db.StatusFailed, "")) // no longer open
	got, err := s.OpenAttemptsByKey(ctx, uid, db.ProviderKlarna, "again:1:")
	if err != nil || len(got) != 1 || got[0].ID != second.ID || len(got[0].Lines) != 1 {
		t.Fatalf("open attempts %+v, %v; want only the second, with its line", got, err)
	}
}

// A Klarna attempt whose order request was sent cannot be closed by the
// shop: not by a changed cart, a switched market, another method's payment
// or a direct close. Klarna may hold its order; the sweep finds out.
func TestAKlarnaAttemptWhoseOrderWasSentIsNeverClosed(t *testing.T) {
	s, clk := newStore(t)
	ctx := t.Context()
	uid, cart := userCart(t, s, "a@example.com")
	sent, _, err := s.OpenAttempt(ctx, cartAttempt(uid, cart, db.ProviderKlarna, sencha))
	must(t, err)
	must(t, s.CreateKlarnaPayment(ctx, db.KlarnaPayment{OrderID: sent.ID, Environment: klarnaSandbox, Kind: db.KlarnaWidget, SessionID: "s1"}))
	must(t, s.SubmitKlarnaOrder(ctx, sent.ID, db.KlarnaSubmission{Key: "key-1", Request: "{}"}, clk.Now()))

	// The cart changed (or the market): the sent attempt is shown again.
	again, reused, err := s.OpenAttempt(ctx, cartAttempt(uid, cart, db.ProviderKlarna, teaAndCarafe...))
	if err != nil || !reused || again.ID != sent.ID {
		t.Fatalf("after the cart changed: %+v reused %v, %v; want the sent attempt again", again, reused, err)
	}
	if err := s.CloseAttempt(ctx, sent.ID, db.StatusCancelled, "closed"); !errors.Is(err, db.ErrStale) {
		t.Errorf("closing the sent attempt: %v, want ErrStale", err)
	}
	// Another method pays the cart: the sent attempt stays open for its sweep.
	vipps, _, err := s.OpenAttempt(ctx, cartAttempt(uid, cart, db.ProviderVipps, sencha))
	must(t, err)
	must(t, s.SetOrderStatusPaid(ctx, vipps.ID, db.StatusPending, db.StatusCaptured, "Paid."))
	if o, _ := s.OrderByPublicID(ctx, sent.PublicID); o.Status != db.StatusPending {
		t.Errorf("the sent Klarna attempt is %s after the cart was paid with Vipps, want pending", o.Status)
	}
	// An attempt whose order was never sent closes as before.
	_, cart2 := userCart(t, s, "b@example.com")
	open, _, err := s.OpenAttempt(ctx, cartAttempt(uid, cart2, db.ProviderKlarna, sencha))
	must(t, err)
	must(t, s.CloseAttempt(ctx, open.ID, db.StatusCancelled, "closed"))
}
