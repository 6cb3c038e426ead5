package db_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"refshop/db"
	"refshop/db/dbtest"
)

func TestExchangesAreKeptByOrderAndAccountInTimeOrder(t *testing.T) {
	s, clk := newStore(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, "a@example.com", "", "h")
	o := newOrder(t, s, u.ID)
	guest := placeOrder(t, s, db.NewOrder{GuestID: "g1", Provider: db.ProviderVipps})
	t0 := clk.Now()

	full := db.Exchange{
		StartedAt: t0.Add(1500 * time.Millisecond), ProviderAt: t0.Add(10*time.Minute + 1500*time.Millisecond),
		Duration: 12500 * time.Microsecond, OrderID: o.ID, RequestID: "req-1",
		Provider: "vipps", Operation: "create_payment", PathTemplate: "/epayment/v1/payments", Method: "POST",
		URL: "http://sb/vipps/epayment/v1/payments", Status: 201, Try: 2, RetryReason: "503", IdempotencyKey: "k-1",
		ReqHeaders: http.Header{"Authorization": {"Bearer [redacted …abcd #12345678]"}}, ReqBody: `{"amount":1}`,
		RespHeaders: http.Header{"Content-Type": {"application/json"}}, RespBody: `{"reference":"r"}`,
	}
	// Recorded out of order: the list is in the order they started, and a
	// whole second sorts before a fraction of the next (fixed-width stamps).
	for _, x := range []db.Exchange{
		full,
		{StartedAt: t0, OrderID: o.ID, Provider: "vipps", Operation: "accesstoken", Method: "POST", URL: "u", Error: "timeout"},
		{StartedAt: t0.Add(time.Second), OrderID: o.ID, Provider: "vipps", Operation: "accesstoken", Method: "POST", URL: "u", Status: 200},
		{StartedAt: t0.Add(2 * time.Second), OrderID: guest.ID, Provider: "vipps", Operation: "get_payment", Method: "GET", URL: "u", Status: 200},
		{StartedAt: t0.Add(3 * time.Second), UserID: u.ID, Provider: "klarna", Operation: "refresh_token", Method: "POST", URL: "u", Status: 200},
		{StartedAt: t0.Add(4 * time.Second), Provider: "klarna", Operation: "discovery", Method: "GET", URL: "u", Status: 200},
	} {
		must(t, s.RecordExchange(ctx, x))
	}

	got, omitted, err := s.ExchangesByOrder(ctx, o.ID, 10)
	if err != nil || omitted != 0 {
		t.Fatal(omitted, err)
	}
	if len(got) != 3 || got[0].Error != "timeout" || got[1].Status != 200 || got[2].Operation != "create_payment" {
		t.Fatalf("order's exchanges: %+v", got)
	}
	if got[0].RespHeaders != nil || got[0].Status != 0 || got[0].Try != 1 {
		t.Errorf("an unanswered exchange: %+v", got[0])
	}
	// Every field comes back as stored; the order's account is filled in.
	g := got[2]
	want := full
	want.ID, want.UserID, want.Origin = g.ID, u.ID, db.OriginShop // stored without an origin: the shop's
	if !g.StartedAt.Equal(want.StartedAt) {
		t.Errorf("started %v, want %v", g.StartedAt, want.StartedAt)
	}
	if !g.ProviderAt.Equal(want.ProviderAt) {
		t.Errorf("provider's time %v, want %v", g.ProviderAt, want.ProviderAt)
	}
	if !got[1].ProviderAt.IsZero() {
		t.Errorf("an exchange stored without the provider's time reads %v", got[1].ProviderAt)
	}
	g.StartedAt, g.ProviderAt = want.StartedAt, want.ProviderAt
	if !reflect.DeepEqual(g, want) {
		t.Errorf("got  %+v\nwant %+v", g, want)
	}

	// The account's list holds its orders' exchanges and its own, the latest
	// limit of them, in time order.
	mine, err := s.ExchangesByUser(ctx, u.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, x := range mine {
		ops = append(ops, x.Operation)
	}
	if want := []string{"accesstoken", "accesstoken", "create_payment", "refresh_token"}; !reflect.DeepEqual(ops, want) {
		t.Errorf("account's exchanges %v, want %v", ops, want)
	}
	if latest, _ := s.ExchangesByUser(ctx, u.ID, 2); len(latest) != 2 || latest[0].Operation != "create_payment" || latest[1].Operation != "refresh_token" {
		t.Errorf("latest two: %+v", latest)
	}
	if err := s.RecordExchange(ctx, db.Exchange{Provider: "vipps"}); err == nil {
		t.Error("an exchange without a method was stored")
	}
}

// A provider's call to the shop is stored with its origin and event, under
// its order or under none; the browser's calls are never stored.
func TestAProvidersCallToTheShopKeepsItsOriginAndEvent(t *testing.T) {
	d := dbtest.Open(t)
	clk := &testClock{now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	s := db.NewStore(d, clk.Now)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, "a@example.com", "", "h")
	o := newOrder(t, s, u.ID)
	in := db.Exchange{StartedAt: clk.Now(), OrderID: o.ID, Provider: "vipps", Operation: "webhook_delivery",
		PathTemplate: "/webhooks/vipps", Method: "POST", URL: "http://shop/webhooks/vipps", Status: 200,
		Origin: db.OriginProvider, Event: "epayments.payment.authorized.v1"}
	must(t, s.RecordExchange(ctx, in))
	unknown := in
	unknown.OrderID, unknown.Event = 0, "epayments.payment.created.v1"
	must(t, s.RecordExchange(ctx, unknown))
	got, _, err := s.ExchangesByOrder(ctx, o.ID, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("%+v %v", got, err)
	}
	if x := got[0]; x.Origin != db.OriginProvider || !x.Is(db.OriginProvider) || x.Is(db.OriginShop) ||
		x.Event != in.Event || x.UserID != u.ID {
		t.Errorf("stored as %+v", x)
	}
	var orphans int
	if err := d.Read.QueryRow(`SELECT count(*) FROM exchanges WHERE order_id IS NULL AND origin = 'provider'`).Scan(&orphans); err != nil || orphans != 1 {
		t.Errorf("%d calls for no order kept (%v), want 1", orphans, err)
	}
	browser := in
	browser.Origin = db.OriginBrowser
	if err := s.RecordExchange(ctx, browser); err == nil {
		t.Error("a browser's call was stored")
	}
}

// An order's list is its latest limit exchanges, in the order they
// started, and says how many earlier ones it leaves out.
func TestAnOrdersExchangesAreItsLatestAndSayHowManyAreLeftOut(t *testing.T) {
	s, clk := newStore(t)
	ctx := context.Background()
	o := placeOrder(t, s, db.NewOrder{GuestID: "g1", Provider: db.ProviderVipps})
	other := placeOrder(t, s, db.NewOrder{GuestID: "g2", Provider: db.ProviderVipps})
	t0 := clk.Now()
	for i := range 7 {
		must(t, s.RecordExchange(ctx, db.Exchange{StartedAt: t0.Add(time.Duration(i) * time.Second), OrderID: o.ID,
			Provider: "vipps", Operation: "get_payment", Method: "GET", URL: fmt.Sprint("u", i)}))
	}
	must(t, s.RecordExchange(ctx, db.Exchange{StartedAt: t0.Add(time.Hour), OrderID: other.ID, Provider: "vipps", Method: "GET", URL: "other"}))

	for _, c := range []struct {
		limit, omitted int
		first          string
	}{{3, 4, "u4"}, {7, 0, "u0"}, {100, 0, "u0"}} {
		xs, omitted, err := s.ExchangesByOrder(ctx, o.ID, c.limit)
		if err != nil {
			t.Fatal(err)
		}
		if want := min(c.limit, 7); len(xs) != want || omitted != c.omitted || xs[0].URL != c.first || xs[len(xs)-1].URL != "u6" {
			t.Errorf("limit %d: %d exchanges from %s, %d left out; want %d from %s, %d left out",
				c.limit, len(xs), xs[0].URL, omitted, want, c.first, c.omitted)
		}
	}
	if xs, omitted, err := s.ExchangesByOrder(ctx, 999999, 3); err != nil || len(xs) != 0 || omitted != 0 {
		t.Errorf("an order with none: %v %d %v", xs, omitted, err)
	}
}

func TestPruneExchangesByAgeAndWithTheirOrder(t *testing.T) {
	d := dbtest.Open(t)
	clk := &testClock{now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	s := db.NewStore(d, clk.Now)
	ctx := context.Background()
	o := placeOrder(t, s, db.NewOrder{GuestID: "g1", Provider: db.ProviderAltpay})
	old := clk.Now().Add(-31 * 24 * time.Hour)
	for i := range 2500 { // more than one batch
		must(t, s.RecordExchange(ctx, db.Exchange{StartedAt: old.Add(time.Duration(i) * time.Millisecond), Provider: "altpay", Method: "GET", URL: "u"}))
	}
	cutoff := clk.Now().Add(-30 * 24 * time.Hour)
	must(t, s.RecordExchange(ctx, db.Exchange{StartedAt: cutoff, OrderID: o.ID, Provider: "altpay", Method: "GET", URL: "kept"}))
	n, err := s.PruneExchanges(ctx, cutoff)
	if err != nil || n != 2500 {
		t.Fatalf("pruned %d, %v; want 2500", n, err)
	}
	if left, _, _ := s.ExchangesByOrder(ctx, o.ID, 10); len(left) != 1 {
		t.Fatalf("the exchange at the cutoff was pruned: %v", left)
	}
	// An order's exchanges go with it.
	if _, err := d.Write.Exec(`DELETE FROM order_lines WHERE order_id = ?`, o.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write.Exec(`DELETE FROM orders WHERE id = ?`, o.ID); err != nil {
		t.Fatal(err)
	}
	var count int
	d.Read.QueryRow(`SELECT count(*) FROM exchanges`).Scan(&count)
	if count != 0 {
		t.Errorf("%d exchanges left after their order was deleted", count)
	}
}

// BenchmarkRecordExchange is one stored exchange of a typical size: what a
// synchronous recorder would add to every provider call (the recorder
// stores on its own goroutine instead).
func BenchmarkRecordExchange(b *testing.B) {
	s := db.NewStore(dbtest.Open(b), nil)
	o, err := s.CreateOrder(b.Context(), db.NewOrder{GuestID: "g", Provider: db.ProviderVipps, Market: "de", Currency: "EUR",
		Lines: []db.OrderLine{sencha}})
	if err != nil {
		b.Fatal(err)
	}
	x := db.Exchange{StartedAt: time.Now(), OrderID: o.ID, Provider: "vipps", Operation: "get_payment", Method: "GET",
		URL: "http://sb/vipps/epayment/v1/payments/r", Status: 200, ReqHeaders: http.Header{"Authorization": {"Bearer [redacted]"}},
		RespHeaders: http.Header{"Content-Type": {"application/json"}}, RespBody: string(make([]byte, 1500))}
	for b.Loop() {
		if err := s.RecordExchange(b.Context(), x); err != nil {
			b.Fatal(err)
		}
	}
}

// A request's exchanges made for no one go to the account it turns out to
// be for; those stored under an order or an account, another request's,
// and the same request's before since keep what they had.
func TestARequestsExchangesAreAttributedToTheAccountLater(t *testing.T) {
	s, clk := newStore(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, "a@example.com", "", "h")
	other, _ := s.CreateUser(ctx, "b@example.com", "", "h")
	o := newOrder(t, s, other.ID)
	t0 := clk.Now()
	for _, x := range []db.Exchange{
		{StartedAt: t0.Add(-time.Minute), RequestID: "req-1", URL: "before since"},
		{StartedAt: t0, RequestID: "req-1", URL: "code"},
		{StartedAt: t0.Add(time.Second), RequestID: "req-1", URL: "keys"},
		{StartedAt: t0.Add(time.Second), RequestID: "req-1", UserID: other.ID, URL: "another account's"},
		{StartedAt: t0.Add(time.Second), RequestID: "req-1", OrderID: o.ID, URL: "an order's"},
		{StartedAt: t0.Add(time.Second), RequestID: "req-2", URL: "another request's"},
	} {
		x.Provider, x.Method = "klarna", "POST"
		must(t, s.RecordExchange(ctx, x))
	}
	n, err := s.AttributeExchanges(ctx, "req-1", t0, u.ID)
	if err != nil || n != 2 {
		t.Fatalf("attributed %d, %v; want 2", n, err)
	}
	mine, _ := s.ExchangesByUser(ctx, u.ID, 10)
	if len(mine) != 2 || mine[0].URL != "code" || mine[1].URL != "keys" {
		t.Errorf("the account's exchanges: %+v", mine)
	}
	theirs, _ := s.ExchangesByUser(ctx, other.ID, 10)
	if len(theirs) != 2 {
		t.Errorf("the other account's: %+v", theirs)
	}
	if _, err := s.AttributeExchanges(ctx, "", t0, u.ID); err == nil {
		t.Error("attributed the exchanges of no request")
	}
}
