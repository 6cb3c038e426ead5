package db_test

import (
	"errors"
	"sync"
	"testing"

	"refshop/db"
)

func altpayTestOrder(t *testing.T, s *db.Store, userID int64, guestID string) db.Order {
	t.Helper()
	return placeOrder(t, s, db.NewOrder{UserID: userID, GuestID: guestID, Provider: db.ProviderAltpay,
		Lines: []db.OrderLine{{ProductID: "stoneware-mug", Name: "Stoneware Mug", Quantity: 1, UnitPrice: 1800, TaxRate: 1900, TotalAmount: 1800, TotalTaxAmount: 287}}})
}

func TestReserveAltpayCustomerGivesOneRowToConcurrentCallers(t *testing.T) {
	s, _ := newStore(t)
	u, err := s.CreateUser(t.Context(), "jane@example.com", "Jane", "")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	got := make([]db.AltpayCustomer, 20)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.ReserveAltpayCustomer(t.Context(), u.ID, "")
			if err != nil {
				t.Error(err)
			}
			got[i] = c
		}()
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
	c, err := s.ReserveAltpayCustomer(t.Context(), u.ID, "")
	if err != nil || c.CustomerID != "cus_1" {
		t.Errorf("after creation: %+v, %v", c, err)
	}

	guest, err := s.ReserveAltpayCustomer(t.Context(), 0, "guest-abc")
	if err != nil || guest.ExternalID == c.ExternalID {
		t.Errorf("guest row %+v, %v: want its own external id", guest, err)
	}
	if _, err := s.AltpayCustomerFor(t.Context(), 0, "guest-other"); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("unknown guest: %v", err)
	}
}

func TestSaveAltpayInvoiceSetsTheOrderReferenceOnce(t *testing.T) {
	s, _ := newStore(t)
	u, _ := s.CreateUser(t.Context(), "jane@example.com", "Jane", "")
	o := altpayTestOrder(t, s, u.ID, "")
	inv := db.AltpayInvoice{OrderID: o.ID, CustomerID: "cus_1", InvoiceID: "inv_1", Status: "UPCOMING"}
	if err := s.SaveAltpayInvoice(t.Context(), inv); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveAltpayInvoice(t.Context(), inv); err != nil {
		t.Errorf("saving the same invoice again: %v", err)
	}
	other := inv
	other.InvoiceID = "inv_2"
	if err := s.SaveAltpayInvoice(t.Context(), other); !errors.Is(err, db.ErrStale) {
		t.Errorf("a second invoice for the order: %v, want ErrStale", err)
	}
	got, err := s.OrderByPublicID(t.Context(), o.PublicID)
	if err != nil || got.ProviderReference != "inv_1" {
		t.Errorf("order reference %q, %v", got.ProviderReference, err)
	}
	stored, err := s.AltpayInvoiceFor(t.Context(), o.ID)
	if err != nil || stored.InvoiceID != "inv_1" || stored.CustomerID != "cus_1" || stored.Status != "UPCOMING" {
		t.Errorf("stored %+v, %v", stored, err)
	}
	if _, err := s.AltpayInvoiceFor(t.Context(), o.ID+100); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("no invoice: %v", err)
	}
}

func TestUnpaidAltpayOrdersListsPendingInvoicesOnly(t *testing.T) {
	s, _ := newStore(t)
	u, _ := s.CreateUser(t.Context(), "jane@example.com", "Jane", "")
	other, _ := s.CreateUser(t.Context(), "bob@example.com", "Bob", "")
	unpaid := altpayTestOrder(t, s, u.ID, "")
	paid := altpayTestOrder(t, s, u.ID, "")
	noInvoice := altpayTestOrder(t, s, u.ID, "")
	bobs := altpayTestOrder(t, s, other.ID, "")
	_ = noInvoice
	for i, o := range []db.Order{unpaid, paid, bobs} {
		if err := s.SaveAltpayInvoice(t.Context(), db.AltpayInvoice{OrderID: o.ID, CustomerID: "cus", InvoiceID: "inv_" + string(rune('a'+i)), Status: "UPCOMING"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetAltpayInvoiceStatus(t.Context(), paid.ID, "PAID"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOrderStatus(t.Context(), paid.ID, db.StatusPending, db.StatusCaptured, "Paid by invoice"); err != nil {
		t.Fatal(err)
	}
	list, err := s.UnpaidAltpayOrders(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != unpaid.ID {
		t.Errorf("unpaid: %+v, want only order %d", list, unpaid.ID)
	}
}
