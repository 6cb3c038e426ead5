package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"refshop/db"
	"refshop/db/dbtest"
	"refshop/web/outbound"
)

// BenchmarkRecordedRoundTripToStore is outbound's BenchmarkRoundTrip with
// the shop's own sink, SQLite on a temporary file: "off" is the client
// without a recorder. Compare with benchstat:
//
//	go test -run - -bench RecordedRoundTripToStore -count 10 ./web | tee bench.txt
func BenchmarkRecordedRoundTripToStore(b *testing.B) {
	answer := `{"reference":"refshop-12","state":"AUTHORIZED","notes":"` + strings.Repeat("x", 1200) + `"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	}))
	defer srv.Close()
	log := slog.New(slog.DiscardHandler)
	calls := func(b *testing.B, c *http.Client, orderID int64) {
		ctx := outbound.WithOrder(outbound.WithOp(context.Background(),
			outbound.Op{Provider: "vipps", Name: "get_payment", Path: "/epayment/v1/payments/{reference}"}), orderID)
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/epayment/v1/payments/refshop-12", nil)
			req.Header.Set("Authorization", "Bearer eyJraWQiOiJhcGkiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl")
			req.Header.Set("Ocp-Apim-Subscription-Key", "0f14ebcab0ec4b29ae0cb90d91b4a84a")
			res, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.ReadAll(res.Body)
			res.Body.Close()
		}
	}
	b.Run("off", func(b *testing.B) { calls(b, outbound.NewClient(log, 0, nil), 0) })
	b.Run("on", func(b *testing.B) {
		store := db.NewStore(dbtest.Open(b), nil)
		rec := outbound.NewRecorder(ExchangeSink(store), log, time.Now)
		defer rec.Close()
		o, err := store.CreateOrder(b.Context(), db.NewOrder{GuestID: "g", Provider: db.ProviderVipps, Market: "no", Currency: "NOK",
			Lines: []db.OrderLine{{ProductID: "sencha", Name: "Sencha", Quantity: 1, UnitPrice: 850, TaxRate: 2500, TotalAmount: 850, TotalTaxAmount: 170}}})
		if err != nil {
			b.Fatal(err)
		}
		calls(b, outbound.NewClient(log, 0, rec), o.ID)
		rec.Flush(context.Background())
		b.ReportMetric(float64(rec.Dropped()), "dropped")
	})
}
