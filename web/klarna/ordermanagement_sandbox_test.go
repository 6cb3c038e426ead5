package klarna_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"refshop/web/clock"
	"refshop/web/klarna"
	"refshop/web/outbound/outboundtest"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/sandboxtest"
	"refshop/web/secret"
)

// The Order Management calls against the sandbox: an order's life from
// placement to refund, and every refusal surfacing as its helper.

// placed buys the cart and returns the order id and its amount.
func (e *env) placed(attempt string) (string, int64) {
	e.t.Helper()
	items := cart(map[string]int64{"sencha": 2, "stoneware-mug": 1})
	_, amount, _ := klarna.Lines(items)
	return e.buy(attempt, items, secret.Secret{}, false).OrderID, amount
}

func (e *env) order(id string) klarna.ManagedOrder {
	e.t.Helper()
	o, err := e.c.GetOrder(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func wantRefused(t *testing.T, err error, code string) {
	t.Helper()
	if !klarna.IsRefused(err, code) || klarna.Reason(err) == "" || klarna.CorrelationID(err) == "" {
		t.Errorf("got %v, want a %s refusal with a reason and a correlation id", err, code)
	}
}

func TestAnOrdersLifeThroughOrderManagement(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id, amount := e.placed("om-life")
	o := e.order(id)
	if o.Status != klarna.StatusAuthorized || o.OrderAmount != amount || o.RemainingAuthorizedAmount != amount ||
		o.PurchaseCurrency != "EUR" || o.FraudStatus != klarna.FraudAccepted || len(o.OrderLines) != 2 {
		t.Fatalf("placed order %+v", o)
	}
	if err := e.c.ReleaseRemaining(ctx, id, "om-life-release-0"); !klarna.IsRefused(err, klarna.NotAllowed) {
		t.Errorf("release before a capture: %v", err)
	}
	_, err := e.c.Refund(ctx, id, 1, "", "om-life-refund-0")
	wantRefused(t, err, klarna.RefundNotAllowed)

	first, err := e.c.Capture(ctx, id, 1000, "", "om-life-capture-1")
	if err != nil || first == "" {
		t.Fatalf("capture: %q %v", first, err)
	}
	_, err = e.c.Capture(ctx, id, amount, "", "om-life-capture-2")
	wantRefused(t, err, klarna.CaptureNotAllowed)
	if o := e.order(id); o.Status != klarna.StatusPartCaptured || o.CapturedAmount != 1000 || len(o.Captures) != 1 || o.Captures[0].CaptureID != first {
		t.Errorf("after a partial capture %+v", o)
	}
	err = e.c.Cancel(ctx, id, "om-life-cancel")
	wantRefused(t, err, klarna.CancelNotAllowed)
	if !strings.Contains(klarna.Reason(err), "Order has previous captures.") {
		t.Errorf("cancel's reason %q", klarna.Reason(err))
	}
	_, err = e.c.Refund(ctx, id, 1001, "", "om-life-refund-1")
	wantRefused(t, err, klarna.RefundNotAllowed)
	if !strings.HasPrefix(klarna.Reason(err), "Over refund is not allowed.") {
		t.Errorf("over-refund reason %q", klarna.Reason(err))
	}
	if err := e.c.ExtendAuthorization(ctx, id, "om-life-extend"); err != nil {
		t.Error(err)
	}
	if err := e.c.ReleaseRemaining(ctx, id, "om-life-release"); err != nil {
		t.Error(err)
	}
	_, err = e.c.Capture(ctx, id, 1, "", "om-life-capture-3")
	wantRefused(t, err, klarna.CaptureNotAllowed)
	refundID, err := e.c.Refund(ctx, id, 1000, "", "om-life-refund-2")
	if err != nil || refundID == "" {
		t.Fatalf("refund %q %v", refundID, err)
	}
	o = e.order(id)
	if o.Status != klarna.StatusCaptured || o.RefundedAmount != 1000 || o.RemainingAuthorizedAmount != 0 || len(o.Refunds) != 1 || o.Refunds[0].RefundID != refundID {
		t.Errorf("at the end %+v", o)
	}
	err = e.c.ReleaseRemaining(ctx, id, "om-life-release-2")
	wantRefused(t, err, klarna.NotAllowed)
	_, err = e.c.GetOrder(ctx, "8c9b3a1e-0000-0000-0000-000000000000")
	if !klarna.IsNoSuchOrder(err) {
		t.Errorf("unknown order: %v", err)
	}
}

func TestACancelledOrExpiredOrderIsRefusedAsDocumented(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	cancelled, _ := e.placed("om-cancel")
	if err := e.c.Cancel(ctx, cancelled, "om-cancel-1"); err != nil {
		t.Fatal(err)
	}
	// The same key again answers as the first time.
	if err := e.c.Cancel(ctx, cancelled, "om-cancel-1"); err != nil {
		t.Errorf("cancel repeated with its key: %v", err)
	}
	if o := e.order(cancelled); o.Status != klarna.StatusCancelled {
		t.Errorf("status %s", o.Status)
	}
	_, err := e.c.Capture(ctx, cancelled, 1, "", "om-cancel-capture")
	wantRefused(t, err, klarna.CaptureNotAllowed)
	wantRefused(t, e.c.ExtendAuthorization(ctx, cancelled, "om-cancel-extend"), klarna.NotAllowed)

	expiring, _ := e.placed("om-expire")
	e.control("/control/clock", map[string]any{"advance": fmt.Sprint(28 * 24 * time.Hour)})
	if o := e.order(expiring); o.Status != klarna.StatusExpired || o.RemainingAuthorizedAmount != 0 {
		t.Errorf("after 28 days %+v", o)
	}
	_, err = e.c.Capture(ctx, expiring, 1, "", "om-expire-capture")
	wantRefused(t, err, klarna.CaptureNotAllowed)
	err = e.c.ExtendAuthorization(ctx, expiring, "om-expire-extend")
	wantRefused(t, err, klarna.NotAllowed)
	if klarna.Reason(err) != "Order is expired. Authorization time cannot be extended." {
		t.Errorf("extend's reason %q", klarna.Reason(err))
	}
}

// A capture whose answer is lost is tried again with the same key, and the
// sandbox replays the first capture: one capture, its id returned.
func TestALostCaptureAnswerMakesOneCapture(t *testing.T) {
	e := newEnv(t)
	id, _ := e.placed("om-lost")
	e.control("/control/faults", map[string]any{"operation": "klarna.om_capture", "lose_answer": true, "times": 1})
	capID, err := e.c.Capture(context.Background(), id, 500, "", "om-lost-capture")
	if err != nil {
		t.Fatal(err)
	}
	o := e.order(id)
	if len(o.Captures) != 1 || o.Captures[0].CaptureID != capID || o.CapturedAmount != 500 {
		t.Errorf("captures %+v, returned %q", o.Captures, capID)
	}
	if n := e.sb.State.Calls("klarna.om_capture"); n != 2 {
		t.Errorf("om_capture called %d times, want 2", n)
	}
}

// The recorder labels each Order Management call with its operation and
// path template, and the key it carried.
func TestTheRecorderLabelsOrderManagementCalls(t *testing.T) {
	sb := sandboxtest.Start(t, control.Config{ShopBaseURL: "http://shop.test",
		Klarna: control.KlarnaConfig{Enabled: true, Username: "PK_test", Password: "sandbox-pw"}},
		clock.NewManual(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)))
	rec := outboundtest.New(t, nil)
	plain := klarna.New(klarna.Config{BaseURL: sb.URL + "/klarna/api", Username: "PK_test", Password: secret.New("sandbox-pw"),
		HTTP: sb.Server.Client(), Sleep: func(context.Context, time.Duration) error { return nil }})
	e := &env{t: t, sb: sb, url: sb.URL, c: plain}
	id, _ := e.placed("om-rec")
	c := klarna.New(klarna.Config{BaseURL: sb.URL + "/klarna/api", Username: "PK_test", Password: secret.New("sandbox-pw"),
		HTTP: rec.Client, Sleep: func(context.Context, time.Duration) error { return nil }})
	ctx := context.Background()
	sb.Fault(t, "klarna.om_capture", http.StatusServiceUnavailable, 1)
	if _, err := c.Capture(ctx, id, 100, "", "rec-capture"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Refund(ctx, id, 100, "", "rec-refund"); err != nil {
		t.Fatal(err)
	}
	if err := c.ExtendAuthorization(ctx, id, "rec-extend"); err != nil {
		t.Fatal(err)
	}
	if err := c.ReleaseRemaining(ctx, id, "rec-release"); err != nil {
		t.Fatal(err)
	}
	if err := c.Cancel(ctx, id, "rec-cancel"); !klarna.IsRefused(err, klarna.CancelNotAllowed) {
		t.Fatal(err)
	}
	if _, err := c.GetOrder(ctx, id); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`om_capture /ordermanagement/v1/orders/{order_id}/captures POST 503 try 1 "rec-capture"`,
		`om_capture /ordermanagement/v1/orders/{order_id}/captures POST 201 try 2 "rec-capture"`,
		`om_refund /ordermanagement/v1/orders/{order_id}/refunds POST 201 try 1 "rec-refund"`,
		`om_extend /ordermanagement/v1/orders/{order_id}/extend-authorization-time POST 204 try 1 "rec-extend"`,
		`om_release /ordermanagement/v1/orders/{order_id}/release-remaining-authorization POST 204 try 1 "rec-release"`,
		`om_cancel /ordermanagement/v1/orders/{order_id}/cancel POST 403 try 1 "rec-cancel"`,
		`om_get_order /ordermanagement/v1/orders/{order_id} GET 200 try 1 ""`,
	}
	var got []string
	for _, x := range rec.Exchanges(t) {
		got = append(got, fmt.Sprintf("%s %s %s %d try %d %q", x.Operation, x.PathTemplate, x.Method, x.Status, x.Try, x.IdempotencyKey))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("recorded\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	rec.NoSecretRecorded(t, "sandbox-pw")
}
