package web

import (
	"context"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"refshop/db"
)

// The account page names the payment method only for orders that were paid
// (authorized or captured); a pending, failed or cancelled order paid nothing.
func TestAccountPaidWithOnlyForPaidOrders(t *testing.T) {
	app := newTestApp(t)
	b := app.browser(t)
	b.signUp("tess@example.com")
	ctx := context.Background()
	u, err := app.Store.UserByEmail(ctx, "tess@example.com")
	if err != nil {
		t.Fatal(err)
	}
	want := map[db.Status]bool{ // status: paid
		db.StatusPending: false, db.StatusAuthorized: true, db.StatusCaptured: true,
		db.StatusFailed: false, db.StatusCancelled: false,
	}
	ids := map[string]db.Status{}
	for status := range want {
		o, err := app.Store.CreateOrder(ctx, db.NewOrder{UserID: u.ID, Provider: db.ProviderVipps, Market: "de", Currency: "EUR",
			Lines: []db.OrderLine{{ProductID: "sencha", Name: "Sencha Green Tea", Quantity: 1, UnitPrice: 850, TaxRate: 700, TotalAmount: 850, TotalTaxAmount: 56}}})
		if err != nil {
			t.Fatal(err)
		}
		if status != db.StatusPending {
			if err := app.Store.SetOrderStatus(ctx, o.ID, db.StatusPending, status, ""); err != nil {
				t.Fatal(err)
			}
		}
		ids[o.PublicID] = status
	}

	p := b.get("/account")
	if p.status != 200 {
		t.Fatalf("account: %d", p.status)
	}
	doc := p.doc(t)
	col := -1
	doc.Find("section[aria-labelledby=orders-heading] thead th").Each(func(i int, th *goquery.Selection) {
		if strings.TrimSpace(th.Text()) == "Paid with" {
			col = i
		}
	})
	if col < 0 {
		t.Fatal("no Paid with column")
	}
	rows := doc.Find("section[aria-labelledby=orders-heading] tbody tr")
	if rows.Length() != len(ids) {
		t.Fatalf("%d rows, want %d", rows.Length(), len(ids))
	}
	rows.Each(func(_ int, tr *goquery.Selection) {
		href, _ := tr.Find("a").Attr("href")
		status, ok := ids[strings.TrimPrefix(href, "/orders/")]
		if !ok {
			t.Fatalf("row for an unknown order %q", href)
		}
		cell := strings.TrimSpace(tr.Children().Eq(col).Text())
		if want[status] && cell != "Vipps MobilePay" {
			t.Errorf("%s order: Paid with %q, want Vipps MobilePay", status, cell)
		}
		if !want[status] && strings.Contains(cell, "Vipps") {
			t.Errorf("%s order: Paid with %q, want no payment method", status, cell)
		}
	})
}
