package outbound

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// benchAnswer is an answer of a typical size: a Vipps payment, a Klarna
// session (about 1.5 KiB of JSON).
var benchAnswer = `{"reference":"refshop-12","pspReference":"1234567890","state":"AUTHORIZED","amount":{"currency":"NOK","value":49900},` +
	`"aggregate":{"authorizedAmount":{"currency":"NOK","value":49900},"capturedAmount":{"currency":"NOK","value":0}},` +
	`"paymentMethod":{"type":"WALLET"},"profile":{"sub":"c06c4afe-d9e1-4c5d-939a-177d752a0944"},` +
	`"redirectUrl":"https://landing.vipps.no/?token=eyJraWQiOiJhcGkiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",` +
	`"notes":"` + strings.Repeat("x", 1000) + `"}`

// BenchmarkRoundTrip is one provider call against a local server, recorded
// or not (the sink is a no-op here; BenchmarkRecordedRoundTripToStore in
// web stores into SQLite). Compare with benchstat:
//
//	go test -run - -bench RoundTrip -count 10 ./web/outbound | tee bench.txt
func BenchmarkRoundTrip(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, benchAnswer)
	}))
	defer srv.Close()
	log := slog.New(slog.DiscardHandler)
	run := func(b *testing.B, rec *Recorder) {
		roundTrips(b, NewClient(log, 0, rec), srv.URL)
		if rec != nil {
			// The writer's backlog is part of the cost: wait for it.
			rec.Flush(context.Background())
			b.ReportMetric(float64(rec.Dropped()), "dropped")
		}
	}
	b.Run("unrecorded", func(b *testing.B) { run(b, nil) })
	b.Run("recorded", func(b *testing.B) {
		rec := NewRecorder(func(context.Context, Exchange) error { return nil }, log, time.Now)
		defer rec.Close()
		run(b, rec)
	})
}

// roundTrips sends b.N calls like a provider client's through c to url.
func roundTrips(b *testing.B, c *http.Client, url string) {
	body := `{"amount":{"currency":"NOK","value":49900},"paymentMethod":{"type":"WALLET"},"reference":"refshop-12",` +
		`"returnUrl":"http://localhost:8080/checkout/vipps/return?order=abc","userFlow":"WEB_REDIRECT"}`
	ctx := WithOrder(WithOp(context.Background(), Op{Provider: "vipps", Name: "create_payment", Path: "/epayment/v1/payments"}), 1)
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequestWithContext(ctx, "POST", url+"/epayment/v1/payments", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer eyJraWQiOiJhcGkiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl")
		req.Header.Set("Ocp-Apim-Subscription-Key", "0f14ebcab0ec4b29ae0cb90d91b4a84a")
		req.Header.Set("Idempotency-Key", "refshop-12-create")
		req.Header.Set("Content-Type", "application/json")
		res, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadAll(io.LimitReader(res.Body, 1<<20)); err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
	}
}
