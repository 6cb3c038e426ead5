package db_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"refshop/db"
	"refshop/db/dbtest"
)

// testClock is the store's clock in these tests: it moves only when a test
// moves it. Safe for concurrent use.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newStore returns a store on a fresh database, with its clock.
func newStore(t *testing.T) (*db.Store, *testClock) {
	c := &testClock{now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	return db.NewStore(dbtest.Open(t), c.Now), c
}

// sencha is one order line for tests that need an order, not its lines.
var sencha = db.OrderLine{ProductID: "sencha", Name: "Sencha", Quantity: 1, UnitPrice: 850, TaxRate: 700, TotalAmount: 850, TotalTaxAmount: 56}

// placeOrder creates the order n describes, in Germany in EUR and for one
// sencha when n names no market, currency and lines.
func placeOrder(t *testing.T, s *db.Store, n db.NewOrder) db.Order {
	t.Helper()
	if n.Market == "" {
		n.Market, n.Currency = "de", "EUR"
	}
	if n.Lines == nil {
		n.Lines = []db.OrderLine{sencha}
	}
	o, err := s.CreateOrder(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestOpenSetsPragmas(t *testing.T) {
	d, err := db.Open(t.Context(), t.TempDir()) // SQLite's own settings, whatever dbtest opens
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000"} {
		var got string
		if err := d.Read.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %q, want %q", pragma, got, want)
		}
	}
}

func TestMigrationsAreIdempotent(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		d, err := db.Open(context.Background(), dir)
		if err != nil {
			t.Fatalf("open #%d: %v", i+1, err)
		}
		d.Close()
	}
}

func TestUsers(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "Ada@Example.com", "Ada", "hash")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, "ada@example.com", "", "hash2"); !errors.Is(err, db.ErrEmailTaken) {
		t.Fatalf("duplicate email (other case): got %v, want ErrEmailTaken", err)
	}
	got, err := s.UserByEmail(ctx, "ADA@example.COM")
	if err != nil || got.ID != u.ID || got.PasswordHash != "hash" {
		t.Fatalf("UserByEmail = %+v, %v", got, err)
	}
	if _, err := s.UserByID(ctx, 999); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestCartQuantitiesAreCapped(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	cart, _ := s.NewCart(ctx)
	must(t, s.AddToCart(ctx, cart, "sencha", 60))
	must(t, s.AddToCart(ctx, cart, "sencha", 60))
	must(t, s.AddToCart(ctx, cart, "carafe", 1))
	items, err := s.CartItems(ctx, cart)
	must(t, err)
	if len(items) != 2 || items[0].ProductID != "sencha" || items[0].Quantity != db.MaxQuantity {
		t.Fatalf("items = %+v, want sencha capped at %d first", items, db.MaxQuantity)
	}
	must(t, s.SetCartQuantity(ctx, cart, "sencha", 0))
	items, _ = s.CartItems(ctx, cart)
	if len(items) != 1 || items[0].ProductID != "carafe" {
		t.Fatalf("after removal: %+v", items)
	}
}

func TestAdoptCartMergesGuestCartIntoUsersCart(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, "a@example.com", "", "h")

	// First sign-in: the guest cart becomes the user's.
	guest1, _ := s.NewCart(ctx)
	must(t, s.AddToCart(ctx, guest1, "sencha", 2))
	userCart, err := s.AdoptCart(ctx, u.ID, guest1)
	must(t, err)
	if userCart != guest1 {
		t.Fatalf("first adoption: got cart %d, want the guest cart %d", userCart, guest1)
	}

	// Second sign-in from another guest session: items are merged, the guest cart is gone.
	guest2, _ := s.NewCart(ctx)
	must(t, s.AddToCart(ctx, guest2, "sencha", 1))
	must(t, s.AddToCart(ctx, guest2, "carafe", 1))
	again, err := s.AdoptCart(ctx, u.ID, guest2)
	must(t, err)
	if again != userCart {
		t.Fatalf("second adoption: got cart %d, want %d", again, userCart)
	}
	items, _ := s.CartItems(ctx, userCart)
	got := map[string]int{}
	for _, it := range items {
		got[it.ProductID] = it.Quantity
	}
	if got["sencha"] != 3 || got["carafe"] != 1 {
		t.Fatalf("merged cart = %v, want sencha 3, carafe 1", got)
	}
	if ok, _ := s.CartExists(ctx, guest2); ok {
		t.Fatal("the merged guest cart still exists")
	}

	// Someone else's cart id cannot be merged in.
	other, _ := s.CreateUser(ctx, "b@example.com", "", "h")
	otherCart, _ := s.AdoptCart(ctx, other.ID, 0)
	must(t, s.AddToCart(ctx, otherCart, "hand-grinder", 1))
	if _, err := s.AdoptCart(ctx, u.ID, otherCart); err != nil {
		t.Fatal(err)
	}
	items, _ = s.CartItems(ctx, userCart)
	for _, it := range items {
		if it.ProductID == "hand-grinder" {
			t.Fatal("another user's cart was merged")
		}
	}
}

// teaAndCarafe are two sencha and a carafe: 46.00 EUR, 5.74 of it tax.
var teaAndCarafe = []db.OrderLine{
	{ProductID: "sencha", Name: "Sencha", Quantity: 2, UnitPrice: 850, TaxRate: 700, TotalAmount: 1700, TotalTaxAmount: 111},
	{ProductID: "carafe", Name: "Carafe", Quantity: 1, UnitPrice: 2900, TaxRate: 1900, TotalAmount: 2900, TotalTaxAmount: 463},
}

func newOrder(t *testing.T, s *db.Store, userID int64) db.Order {
	t.Helper()
	return placeOrder(t, s, db.NewOrder{UserID: userID, Provider: db.ProviderVipps, Lines: teaAndCarafe})
}

func TestOrdersLifecycle(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, "a@example.com", "", "h")
	o := newOrder(t, s, u.ID)
	if o.Status != db.StatusPending || o.TotalAmount != 4600 || o.TaxAmount != 574 || o.ItemCount != 3 {
		t.Fatalf("new order = %+v", o)
	}
	if o.IdempotencyKey == "" || len(o.PublicID) < 20 {
		t.Fatalf("order ids: key %q, public id %q", o.IdempotencyKey, o.PublicID)
	}

	must(t, s.SetOrderStatus(ctx, o.ID, db.StatusPending, db.StatusAuthorized, ""))
	// A second request that still thinks the order is pending loses the race.
	if err := s.SetOrderStatus(ctx, o.ID, db.StatusPending, db.StatusFailed, ""); !errors.Is(err, db.ErrStale) {
		t.Fatalf("stale transition: got %v, want ErrStale", err)
	}
	if err := s.SetOrderStatus(ctx, o.ID, db.StatusAuthorized, db.StatusPending, ""); err == nil {
		t.Fatal("authorized -> pending was allowed")
	}
	must(t, s.SetOrderStatus(ctx, o.ID, db.StatusAuthorized, db.StatusCaptured, "Paid in full."))
	must(t, s.SetProviderReference(ctx, o.ID, "ref-123"))
	must(t, s.SetProviderReference(ctx, o.ID, "ref-123")) // the same again is fine
	if err := s.SetProviderReference(ctx, o.ID, "ref-456"); !errors.Is(err, db.ErrStale) {
		t.Fatalf("changing the provider reference: got %v, want ErrStale", err)
	}

	got, err := s.OrderByPublicID(ctx, o.PublicID)
	must(t, err)
	if got.Status != db.StatusCaptured || got.StatusDetail != "Paid in full." || got.ProviderReference != "ref-123" || len(got.Lines) != 2 {
		t.Fatalf("loaded order = %+v", got)
	}
	if !got.OwnedBy(u.ID, "") || got.OwnedBy(u.ID+1, "") || got.OwnedBy(0, "some-guest") {
		t.Fatal("OwnedBy is wrong for a user's order")
	}
	list, err := s.OrdersByUser(ctx, u.ID)
	must(t, err)
	if len(list) != 1 || list[0].ItemCount != 3 {
		t.Fatalf("OrdersByUser = %+v", list)
	}
}

func TestGuestOrderOwnership(t *testing.T) {
	s, _ := newStore(t)
	o := placeOrder(t, s, db.NewOrder{GuestID: "g1", Provider: db.ProviderKlarna})
	if !o.OwnedBy(0, "g1") || o.OwnedBy(0, "g2") || o.OwnedBy(0, "") || o.OwnedBy(1, "") {
		t.Fatal("guest ownership is wrong")
	}
}

func TestCreateOrderRefusesBadInputAndWritesNothing(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, "a@example.com", "", "h")
	if _, err := s.CreateOrder(ctx, db.NewOrder{UserID: u.ID, Provider: db.ProviderVipps, Market: "de", Currency: "EUR"}); err == nil {
		t.Fatal("an order without lines was accepted")
	}
	o := newOrder(t, s, u.ID)
	// The same idempotency key twice is refused and leaves no half-written order.
	_, err := s.CreateOrder(ctx, db.NewOrder{UserID: u.ID, Provider: db.ProviderVipps, Market: "de", Currency: "EUR", IdempotencyKey: o.IdempotencyKey,
		Lines: []db.OrderLine{{ProductID: "x", Name: "X", Quantity: 1, UnitPrice: 1, TotalAmount: 1}}})
	if err == nil {
		t.Fatal("a duplicate idempotency key was accepted")
	}
	list, _ := s.OrdersByUser(ctx, u.ID)
	if len(list) != 1 {
		t.Fatalf("orders after the refused insert: %d, want 1", len(list))
	}
}

func TestConcurrentWritersDoNotFail(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	cart, _ := s.NewCart(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.AddToCart(ctx, cart, "sencha", 1)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	items, _ := s.CartItems(ctx, cart)
	if items[0].Quantity != 50 {
		t.Fatalf("quantity after 50 concurrent adds = %d", items[0].Quantity)
	}
}

func TestKeyCheck(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	ok, err := s.CheckKey(ctx, "aaaa")
	if err != nil || !ok {
		t.Fatalf("first key: %v %v", ok, err)
	}
	if ok, _ := s.CheckKey(ctx, "aaaa"); !ok {
		t.Fatal("same key refused")
	}
	if ok, _ := s.CheckKey(ctx, "bbbb"); ok {
		t.Fatal("a different key was accepted")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSetOrderStatusPaidTakesTheOrderOutOfTheCartOnce(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, "a@example.com", "", "h")
	cart, _ := s.AdoptCart(ctx, u.ID, 0)
	must(t, s.AddToCart(ctx, cart, "sencha", 2))
	must(t, s.AddToCart(ctx, cart, "carafe", 1))
	o := placeOrder(t, s, db.NewOrder{UserID: u.ID, CartID: cart, Provider: db.ProviderVipps, Lines: teaAndCarafe})
	// While the customer pays, they add one more tea and a grinder.
	must(t, s.AddToCart(ctx, cart, "sencha", 1))
	must(t, s.AddToCart(ctx, cart, "hand-grinder", 1))

	if err := s.SetOrderStatusPaid(ctx, o.ID, db.StatusPending, db.StatusFailed, ""); err == nil {
		t.Fatal("failed was accepted as a paid status")
	}
	must(t, s.SetOrderStatusPaid(ctx, o.ID, db.StatusPending, db.StatusAuthorized, ""))
	// The loser of a race changes nothing.
	if err := s.SetOrderStatusPaid(ctx, o.ID, db.StatusPending, db.StatusAuthorized, ""); !errors.Is(err, db.ErrStale) {
		t.Fatalf("second swap: %v, want ErrStale", err)
	}
	items, _ := s.CartItems(ctx, cart)
	got := map[string]int{}
	for _, it := range items {
		got[it.ProductID] = it.Quantity
	}
	if len(got) != 2 || got["sencha"] != 1 || got["hand-grinder"] != 1 {
		t.Fatalf("cart after payment = %v, want the extra sencha and the grinder only", got)
	}
}

// A store error names the operation and still matches its sentinel.
func TestErrorsNameTheOperation(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	_, err := s.UserByID(ctx, 999)
	if !errors.Is(err, db.ErrNotFound) || err.Error() != "db: user by id: not found" {
		t.Fatalf("UserByID(unknown) = %v", err)
	}
	u, _ := s.CreateUser(ctx, "a@example.com", "", "h")
	o := newOrder(t, s, u.ID)
	must(t, s.SetOrderStatus(ctx, o.ID, db.StatusPending, db.StatusAuthorized, ""))
	err = s.SetOrderStatus(ctx, o.ID, db.StatusPending, db.StatusFailed, "")
	if !errors.Is(err, db.ErrStale) || err.Error() != "db: set order status: row changed by another request" {
		t.Fatalf("stale SetOrderStatus = %v", err)
	}
}
