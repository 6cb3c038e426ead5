package db_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"refshop/db"
)

const sandboxEnv = "http://localhost:8081/altpay"

func altpayTestOrder(t *testing.T, s *db.Store, userID int64, guestID string) db.Order {
	t.Helper()
	return placeOrder(t, s, db.NewOrder{UserID: userID, GuestID: guestID, Provider: db.ProviderAltpay,
		Lines: []db.OrderLine{{ProductID: "stoneware-mug", Name: "Stoneware Mug", Quantity: 1, UnitPrice: 1800, TaxRate: 1900, TotalAmount: 1800, TotalTaxAmount: 287}}})
}

// reserveInvoice records the order's invoice request in sandboxEnv, for
// customer cus.
func reserveInvoice(t *testing.T, s *db.Store, o db.Order, cus string) db.AltpayInvoice {
	t.Helper()
	inv, err := s.ReserveAltpayInvoice(t.Context(), db.AltpayInvoice{OrderID: o.ID, Environment: sandboxEnv, CustomerID: cus,
		IdempotencyKey: "invoice-" + o.IdempotencyKey, DueDate: "2026-12-05", SettleAfter: time.Date(2026, 11, 21, 10, 2, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

func TestReserveAltpayCustomerGivesOneRowToConcurrentCallers(t *testing.T) {
	s, _ := newStore(t)
	u, err := s.CreateUser(t.Context(), "jane@example.com", "Jane", "")
	if err != nil {
		t.Fatal(err)
	}
	jane := db.AltpayPayer{Environment: sandboxEnv, UserID: u.ID, Email: "jane@example.com", Name: "Jane"}
	var wg sync.WaitGroup
	got := make([]db.AltpayCustomer, 20)
	for i := range got {
		wg.Go(func() {
			c, err := s.ReserveAltpayCustomer(t.Context(), jane)
			if err != nil {
				t.Error(err)
			}
			got[i] = c
		})
	}
	wg.Wait()
	for _, c := range got {
		if c.ExternalID == "" || c.ExternalID != got[0].ExternalID || c.CustomerID != "" {
			t.Fatalf("reservations differ: %+v vs %+v", c, got[0])
		}
	}
	if err := s.SetAltpayCustomerID(t.Context(), got[0].ExternalID, "cus_1"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAltpayCustomerID(t.Context(), got[0].ExternalID, "cus_1"); err != nil {
		t.Errorf("setting the same id again: %v", err)
	}
	if err := s.SetAltpayCustomerID(t.Context(), got[0].ExternalID, "cus_2"); !errors.Is(err, db.ErrStale) {
		t.Errorf("replacing the customer id: %v, want ErrStale", err)
	}
	// A user's customer is the account's, whatever name the invoice shows.
	renamed := jane
	renamed.Name = "Jane Doe"
	c, err := s.ReserveAltpayCustomer(t.Context(), renamed)
	if err != nil || c.CustomerID != "cus_1" {
		t.Errorf("after creation: %+v, %v", c, err)
	}
	if _, err := s.AltpayCustomerFor(t.Context(), db.AltpayPayer{Environment: sandboxEnv, GuestID: "guest-other", Email: "a@example.com", Name: "A"}); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("unknown guest: %v", err)
	}
}

// The API cannot change a customer's email or name, so a guest who types
// other details gets another customer; the same details find the same one.
func TestAGuestHasACustomerPerEmailAndName(t *testing.T) {
	s, _ := newStore(t)
	gus := db.AltpayPayer{Environment: sandboxEnv, GuestID: "guest-1", Email: "gus@example.com", Name: "Gus"}
	first, err := s.ReserveAltpayCustomer(t.Context(), gus)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range []db.AltpayPayer{
		{Environment: sandboxEnv, GuestID: "guest-1", Email: "gus@work.example", Name: "Gus"},
		{Environment: sandboxEnv, GuestID: "guest-1", Email: "gus@example.com", Name: "Gus Guest"},
		{Environment: sandboxEnv, GuestID: "guest-2", Email: "gus@example.com", Name: "Gus"},
	} {
		c, err := s.ReserveAltpayCustomer(t.Context(), other)
		if err != nil || c.ExternalID == first.ExternalID {
			t.Errorf("%+v: %+v, %v; want a customer of its own", other, c, err)
		}
	}
	gus.Email = "GUS@example.com" // email addresses compare without case
	if again, err := s.ReserveAltpayCustomer(t.Context(), gus); err != nil || again.ExternalID != first.ExternalID {
		t.Errorf("the same details again: %+v, %v; want %+v", again, err, first)
	}
}

// Ids are per environment: a customer made in the sandbox is not found when
// the shop talks to another API, and the one made there is kept apart.
func TestAltpayCustomersArePerEnvironment(t *testing.T) {
	s, _ := newStore(t)
	u, _ := s.CreateUser(t.Context(), "jane@example.com", "Jane", "")
	sandbox := db.AltpayPayer{Environment: sandboxEnv, UserID: u.ID, Email: "jane@example.com", Name: "Jane"}
	c, _ := s.ReserveAltpayCustomer(t.Context(), sandbox)
	if err := s.SetAltpayCustomerID(t.Context(), c.ExternalID, "cus_sandbox"); err != nil {
		t.Fatal(err)
	}
	demo := sandbox
	demo.Environment = "https://public-api.demo.alternativepayments.io"
	d, err := s.ReserveAltpayCustomer(t.Context(), demo)
	if err != nil || d.CustomerID != "" || d.ExternalID == c.ExternalID {
		t.Fatalf("in another environment: %+v, %v; want a new, uncreated customer", d, err)
	}
	if err := s.SetAltpayCustomerID(t.Context(), d.ExternalID, "cus_demo"); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.ReserveAltpayCustomer(t.Context(), sandbox); again.CustomerID != "cus_sandbox" {
		t.Errorf("the sandbox customer is now %q", again.CustomerID)
	}
}

func TestForgetAltpayCustomerMakesWayForANewOne(t *testing.T) {
	s, _ := newStore(t)
	gus := db.AltpayPayer{Environment: sandboxEnv, GuestID: "guest-1", Email: "gus@example.com", Name: "Gus"}
	c, _ := s.ReserveAltpayCustomer(t.Context(), gus)
	if err := s.SetAltpayCustomerID(t.Context(), c.ExternalID, "cus_1"); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetAltpayCustomer(t.Context(), c.ExternalID, "cus_other"); err != nil {
		t.Fatal(err)
	}
	if same, _ := s.AltpayCustomerFor(t.Context(), gus); same.ExternalID != c.ExternalID || same.CustomerID != "cus_1" {
		t.Fatalf("forgetting another customer id changed the row: %+v", same)
	}
	if err := s.ForgetAltpayCustomer(t.Context(), c.ExternalID, "cus_1"); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReserveAltpayCustomer(t.Context(), gus)
	if err != nil || got.CustomerID != "" || got.ExternalID == c.ExternalID {
		t.Errorf("after forgetting: %+v, %v; want no customer and a new external id", got, err)
	}
}

func TestAltpayInvoiceIsReservedBeforeItIsSaved(t *testing.T) {
	s, _ := newStore(t)
	u, _ := s.CreateUser(t.Context(), "jane@example.com", "Jane", "")
	o := altpayTestOrder(t, s, u.ID, "")
	inv := reserveInvoice(t, s, o, "cus_1")
	if inv.InvoiceID != "" || inv.IdempotencyKey != "invoice-"+o.IdempotencyKey || inv.DueDate != "2026-12-05" || inv.Environment != sandboxEnv {
		t.Fatalf("reserved %+v", inv)
	}
	// A second reservation (a retry, another process) gets the first one.
	if again := reserveInvoice(t, s, o, "cus_2"); again.CustomerID != "cus_1" {
		t.Errorf("second reservation: %+v", again)
	}
	if err := s.SetAltpayInvoiceCustomer(t.Context(), o.ID, "cus_3", "invoice-k/cus_3"); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAltpayInvoice(t.Context(), o.ID, "inv_1", "UPCOMING"); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAltpayInvoice(t.Context(), o.ID, "inv_1", "UPCOMING"); err != nil {
		t.Errorf("saving the same invoice again: %v", err)
	}
	if err := s.SaveAltpayInvoice(t.Context(), o.ID, "inv_2", "UPCOMING"); !errors.Is(err, db.ErrStale) {
		t.Errorf("a second invoice for the order: %v, want ErrStale", err)
	}
	if err := s.SetAltpayInvoiceCustomer(t.Context(), o.ID, "cus_4", "k4"); !errors.Is(err, db.ErrStale) {
		t.Errorf("readdressing a recorded invoice: %v, want ErrStale", err)
	}
	got, err := s.OrderByPublicID(t.Context(), o.PublicID)
	if err != nil || got.ProviderReference != "inv_1" {
		t.Errorf("order reference %q, %v", got.ProviderReference, err)
	}
	stored, err := s.AltpayInvoiceFor(t.Context(), o.ID)
	if err != nil || stored.InvoiceID != "inv_1" || stored.CustomerID != "cus_3" || stored.IdempotencyKey != "invoice-k/cus_3" || stored.Status != "UPCOMING" {
		t.Errorf("stored %+v, %v", stored, err)
	}
	if _, err := s.AltpayInvoiceFor(t.Context(), o.ID+100); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("no invoice: %v", err)
	}
	if err := s.SaveAltpayInvoice(t.Context(), o.ID+100, "inv_9", "UPCOMING"); !errors.Is(err, db.ErrStale) {
		t.Errorf("saving without a reservation: %v, want ErrStale", err)
	}
}

func TestAltpayInvoicesToSettleListsUnrecordedPendingOnesPastTheirTime(t *testing.T) {
	s, clk := newStore(t)
	u, _ := s.CreateUser(t.Context(), "jane@example.com", "Jane", "")
	unrecorded := altpayTestOrder(t, s, u.ID, "")
	recorded := altpayTestOrder(t, s, u.ID, "")
	closed := altpayTestOrder(t, s, u.ID, "")
	elsewhere := altpayTestOrder(t, s, u.ID, "")
	for _, o := range []db.Order{unrecorded, recorded, closed} {
		reserveInvoice(t, s, o, "cus_1")
	}
	if _, err := s.ReserveAltpayInvoice(t.Context(), db.AltpayInvoice{OrderID: elsewhere.ID, Environment: "https://other.example",
		CustomerID: "cus_1", IdempotencyKey: "k", DueDate: "2026-12-05"}); err != nil {
		t.Fatal(err)
	}
	must(t, s.SaveAltpayInvoice(t.Context(), recorded.ID, "inv_1", "UPCOMING"))
	must(t, s.CloseAttempt(t.Context(), closed.ID, db.StatusCancelled, "closed"))

	if ids, err := s.AltpayInvoicesToSettle(t.Context(), sandboxEnv, clk.Now(), 8, 10); err != nil || len(ids) != 0 {
		t.Fatalf("before the settle time: %v, %v", ids, err)
	}
	clk.Advance(5 * time.Minute)
	ids, err := s.AltpayInvoicesToSettle(t.Context(), sandboxEnv, clk.Now(), 8, 10)
	if err != nil || len(ids) != 1 || ids[0] != unrecorded.PublicID {
		t.Fatalf("to settle: %v, %v; want only %s", ids, err, unrecorded.PublicID)
	}
	tries, err := s.AltpayInvoiceSettleFailed(t.Context(), unrecorded.ID, clk.Now().Add(time.Minute))
	if err != nil || tries != 1 {
		t.Fatalf("settle failed: %d, %v", tries, err)
	}
	if ids, _ := s.AltpayInvoicesToSettle(t.Context(), sandboxEnv, clk.Now(), 8, 10); len(ids) != 0 {
		t.Errorf("listed again before its next time: %v", ids)
	}
	must(t, s.SetAltpayInvoiceSettleAfter(t.Context(), unrecorded.ID, clk.Now()))
	if ids, _ := s.AltpayInvoicesToSettle(t.Context(), sandboxEnv, clk.Now(), 1, 10); len(ids) != 0 {
		t.Errorf("listed past its tries: %v", ids)
	}
	if ids, _ := s.AltpayInvoicesToSettle(t.Context(), sandboxEnv, clk.Now(), 8, 10); len(ids) != 1 {
		t.Errorf("not listed once due again: %v", ids)
	}
}

func TestUnpaidAltpayOrdersListsPendingInvoicesOfTheEnvironmentOnly(t *testing.T) {
	s, _ := newStore(t)
	u, _ := s.CreateUser(t.Context(), "jane@example.com", "Jane", "")
	other, _ := s.CreateUser(t.Context(), "bob@example.com", "Bob", "")
	unpaid := altpayTestOrder(t, s, u.ID, "")
	paid := altpayTestOrder(t, s, u.ID, "")
	unrecorded := altpayTestOrder(t, s, u.ID, "")
	bobs := altpayTestOrder(t, s, other.ID, "")
	for i, o := range []db.Order{unpaid, paid, bobs} {
		reserveInvoice(t, s, o, "cus")
		must(t, s.SaveAltpayInvoice(t.Context(), o.ID, "inv_"+string(rune('a'+i)), "UPCOMING"))
	}
	reserveInvoice(t, s, unrecorded, "cus")
	must(t, s.SetAltpayInvoiceStatus(t.Context(), paid.ID, "PAID"))
	must(t, s.SetOrderStatus(t.Context(), paid.ID, db.StatusPending, db.StatusCaptured, "Paid by invoice"))
	list, err := s.UnpaidAltpayOrders(t.Context(), u.ID, sandboxEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != unpaid.ID {
		t.Errorf("unpaid: %+v, want only order %d", list, unpaid.ID)
	}
	if list, _ := s.UnpaidAltpayOrders(t.Context(), u.ID, "https://public-api.alternativepayments.io"); len(list) != 0 {
		t.Errorf("another environment lists %+v", list)
	}
}
