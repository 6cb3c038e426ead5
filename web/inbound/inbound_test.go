package inbound

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"refshop/web/outbound"
)

// collected is a recorder whose sink keeps what it is given.
type collected struct {
	rec *outbound.Recorder
	mu  sync.Mutex
	xs  []outbound.Exchange
}

func newCollected(t *testing.T) *collected {
	c := &collected{}
	c.rec = outbound.NewRecorder(func(_ context.Context, x outbound.Exchange) error {
		c.mu.Lock()
		c.xs = append(c.xs, x)
		c.mu.Unlock()
		return nil
	}, slog.New(slog.DiscardHandler), nil)
	t.Cleanup(c.rec.Close)
	return c
}

func (c *collected) exchanges(t *testing.T) []outbound.Exchange {
	t.Helper()
	if err := c.rec.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]outbound.Exchange(nil), c.xs...)
}

var route = Route{Provider: "altpay", Operation: "webhook_delivery", Path: "/hook",
	Event: func(b []byte) string { _, after, _ := strings.Cut(string(b), "topic="); return after }}

// serve runs handler behind Record on an echo server and posts body to it.
func serve(t *testing.T, rec *outbound.Recorder, r Route, handler echo.HandlerFunc, body string) (*http.Response, string) {
	t.Helper()
	e := echo.New()
	e.POST("/hook", handler, Record(rec, r, func(err error, c echo.Context) { _ = c.String(http.StatusTeapot, "rendered: "+err.Error()) }))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("POST", srv.URL+"/hook?token=tok-xyz", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer the-shops-own-webhook-secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// The receiver reads the whole body as sent, and the record holds the same
// body, the shop's answer, the order the receiver named, the event, and the
// provider's credential as a credential's mark.
func TestACallIsRecordedOnceWithItsAnswerAndOrder(t *testing.T) {
	c := newCollected(t)
	var read string
	res, answer := serve(t, c.rec, route, func(ctx echo.Context) error {
		b, err := io.ReadAll(ctx.Request().Body)
		read = string(b)
		if err != nil {
			return err
		}
		SetOrder(ctx, 42)
		return ctx.JSON(http.StatusAccepted, map[string]string{"status": "settled"})
	}, "id=1&topic=invoice_paid")
	if res.StatusCode != http.StatusAccepted || read != "id=1&topic=invoice_paid" {
		t.Fatalf("answer %d %q; the handler read %q", res.StatusCode, answer, read)
	}
	xs := c.exchanges(t)
	if len(xs) != 1 {
		t.Fatalf("%d records, want 1", len(xs))
	}
	x := xs[0]
	if !x.Inbound || x.Provider != "altpay" || x.Operation != "webhook_delivery" || x.PathTemplate != "/hook" ||
		x.Method != "POST" || x.OrderID != 42 || x.Event != "invoice_paid" || x.Status != http.StatusAccepted {
		t.Errorf("record %+v", x)
	}
	if x.ReqBody != "id=1&topic=invoice_paid" || x.RespBody != answer || x.RespHeader.Get("Content-Type") == "" {
		t.Errorf("bodies %q %q, answer headers %v", x.ReqBody, x.RespBody, x.RespHeader)
	}
	if !strings.Contains(x.URL, "/hook?token=[redacted #") || strings.Contains(x.URL, "tok-xyz") {
		t.Errorf("URL %q", x.URL)
	}
	if got := x.ReqHeader.Get("Authorization"); !strings.HasPrefix(got, "Bearer [redacted credential #") || strings.Contains(got, "secret") {
		t.Errorf("Authorization %q", got)
	}
	if x.ReqHeader.Get("Host") == "" {
		t.Error("the record lacks the Host the call was sent to")
	}
}

// A receiver's error is rendered before the answer is recorded, so the
// record holds what the provider got; a call the receiver names no order
// for is recorded under none.
func TestAnErrorIsRecordedAsAnsweredAndAnUnknownOrderAsNone(t *testing.T) {
	c := newCollected(t)
	res, answer := serve(t, c.rec, route, func(echo.Context) error { return errors.New("store down") }, "topic=invoice_paid")
	if res.StatusCode != http.StatusTeapot || answer != "rendered: store down" {
		t.Fatalf("answer %d %q", res.StatusCode, answer)
	}
	xs := c.exchanges(t)
	if len(xs) != 1 || xs[0].Status != http.StatusTeapot || xs[0].RespBody != answer || xs[0].OrderID != 0 {
		t.Fatalf("records %+v", xs)
	}
}

// A body over the recording limit still reaches the receiver whole; the
// record says how big it was instead of keeping it, and reads no event
// from it.
func TestABodyOverTheLimitReachesTheReceiverWhole(t *testing.T) {
	c := newCollected(t)
	big := "topic=x&" + strings.Repeat("a", 300<<10)
	var n int
	serve(t, c.rec, route, func(ctx echo.Context) error {
		b, _ := io.ReadAll(ctx.Request().Body)
		n = len(b)
		return ctx.NoContent(http.StatusOK)
	}, big)
	if n != len(big) {
		t.Fatalf("the receiver read %d bytes of %d", n, len(big))
	}
	xs := c.exchanges(t)
	if len(xs) != 1 || !strings.HasPrefix(xs[0].ReqBody, "[body not recorded: at least ") || xs[0].Event != "" {
		t.Fatalf("records %+v", xs)
	}
}

// Without a recorder the route works and nothing is recorded.
func TestWithoutARecorderNothingIsRecorded(t *testing.T) {
	res, answer := serve(t, nil, route, func(ctx echo.Context) error {
		b, _ := io.ReadAll(ctx.Request().Body)
		return ctx.String(http.StatusOK, string(b))
	}, "topic=invoice_paid")
	if res.StatusCode != http.StatusOK || answer != "topic=invoice_paid" {
		t.Fatalf("answer %d %q", res.StatusCode, answer)
	}
}

// Only what looks like an event's name is kept of what a body says.
func TestEventNames(t *testing.T) {
	for in, want := range map[string]string{
		"epayments.payment.authorized.v1": "epayments.payment.authorized.v1",
		"FRAUD_RISK_ACCEPTED":             "FRAUD_RISK_ACCEPTED",
		"invoice_paid":                    "invoice_paid",
		"<script>":                        "",
		"a b":                             "",
		strings.Repeat("x", 65):           "",
	} {
		if got := eventName(in); got != want {
			t.Errorf("eventName(%q) = %q, want %q", in, got, want)
		}
	}
}
