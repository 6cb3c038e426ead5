package klarna

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The Order Management calls against Klarna's documented examples: what
// goes out (path, method, Basic auth, Klarna-Idempotency-Key, body) and how
// the documented answers and refusals come back.

func TestGetOrderDecodesTheDocumentedOrder(t *testing.T) {
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		answer(w, 200, testdata(t, "om_order.json"))
	})
	o, err := c.GetOrder(context.Background(), "7849fd84-47dc-4919-a7ce-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if r := f.last.r; r.Method != "GET" || r.URL.Path != "/ordermanagement/v1/orders/7849fd84-47dc-4919-a7ce-000000000000" {
		t.Errorf("request %s %s", r.Method, r.URL.Path)
	}
	if u, p, ok := f.last.r.BasicAuth(); !ok || u != "PK_test" || p != "pw" {
		t.Errorf("basic auth %q %q %v", u, p, ok)
	}
	if o.OrderID != "7849fd84-47dc-4919-a7ce-000000000000" || o.Status != StatusCaptured || o.FraudStatus != FraudAccepted ||
		o.OrderAmount != 200 || o.OriginalOrderAmount != 200 || o.CapturedAmount != 200 || o.RefundedAmount != 0 ||
		o.RemainingAuthorizedAmount != 0 || o.PurchaseCurrency != "PLN" {
		t.Errorf("order %+v", o)
	}
	if !o.CreatedAt.Equal(time.Date(2022, 7, 8, 9, 48, 16, 680e6, time.UTC)) || !o.ExpiresAt.Equal(time.Date(2022, 8, 5, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("times %v %v", o.CreatedAt, o.ExpiresAt)
	}
	if len(o.Captures) != 1 || o.Captures[0].CaptureID != "32904e4c-0000-0000-0000-000000000000" || o.Captures[0].CapturedAmount != 200 ||
		len(o.Refunds) != 0 || o.InitialPaymentMethod == nil || o.InitialPaymentMethod.Type != "INVOICE" {
		t.Errorf("captures %+v refunds %+v method %+v", o.Captures, o.Refunds, o.InitialPaymentMethod)
	}
}

// Capture and refund send their amount under the documented name with the
// caller's key, and return the id Klarna puts in a header of its 201.
func TestCaptureAndRefundSendTheAmountAndReturnTheID(t *testing.T) {
	for _, tc := range []struct {
		name, path, field, header string
		call                      func(c *Client) (string, error)
	}{
		{"capture", "/ordermanagement/v1/orders/o-1/captures", "captured_amount", "Capture-Id",
			func(c *Client) (string, error) { return c.Capture(context.Background(), "o-1", 6000, "", "key-1") }},
		{"refund", "/ordermanagement/v1/orders/o-1/refunds", "refunded_amount", "Refund-Id",
			func(c *Client) (string, error) { return c.Refund(context.Background(), "o-1", 6000, "", "key-1") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, withID := range []bool{true, false} {
				f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
					if withID {
						w.Header().Set(tc.header, "4ba29b50-be7b-44f5-a492-113e6a865e22")
					}
					w.Header().Set("Location", "https://api.playground.klarna.com"+tc.path+"/4ba29b50-be7b-44f5-a492-113e6a865e22")
					w.WriteHeader(http.StatusCreated)
				})
				id, err := tc.call(c)
				if err != nil || id != "4ba29b50-be7b-44f5-a492-113e6a865e22" {
					t.Fatalf("id %q, %v (id header sent: %v)", id, err, withID)
				}
				r := f.last.r
				if r.Method != "POST" || r.URL.Path != tc.path || r.Header.Get("Klarna-Idempotency-Key") != "key-1" ||
					r.Header.Get("Content-Type") != "application/json" {
					t.Errorf("request %s %s %v", r.Method, r.URL.Path, r.Header)
				}
				var got map[string]any
				if err := json.Unmarshal(f.last.body, &got); err != nil || len(got) != 1 || got[tc.field] != 6000.0 {
					t.Errorf("body %s", f.last.body)
				}
			}
		})
	}
}

// Cancel, extend and release are bodiless POSTs with the key, answered 204.
func TestBodilessOrderManagementCalls(t *testing.T) {
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		w.WriteHeader(http.StatusNoContent)
	})
	ctx := context.Background()
	for path, call := range map[string]func() error{
		"/cancel":                          func() error { return c.Cancel(ctx, "o-2", "k-2") },
		"/extend-authorization-time":       func() error { return c.ExtendAuthorization(ctx, "o-2", "k-2") },
		"/release-remaining-authorization": func() error { return c.ReleaseRemaining(ctx, "o-2", "k-2") },
	} {
		if err := call(); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r := f.last.r
		if r.Method != "POST" || r.URL.Path != "/ordermanagement/v1/orders/o-2"+path || r.Header.Get("Klarna-Idempotency-Key") != "k-2" || len(f.last.body) != 0 {
			t.Errorf("%s: %s %s key %q body %q", path, r.Method, r.URL.Path, r.Header.Get("Klarna-Idempotency-Key"), f.last.body)
		}
	}
	if err := c.Cancel(ctx, "o-2", ""); err == nil || !strings.Contains(err.Error(), "missing idempotency key") {
		t.Errorf("cancel without a key: %v", err)
	}
	if n := f.calls.Load(); n != 3 {
		t.Errorf("%d requests, want 3 (none without a key)", n)
	}
}

// Each documented refusal is a 403 the helpers recognise by its code, with
// Klarna's messages as a sentence; a 404 is IsNoSuchOrder.
func TestOrderManagementRefusalsAreClassified(t *testing.T) {
	cases := []struct {
		file, code, reason string
		call               func(c *Client) error
	}{
		{"om_error_capture.json", CaptureNotAllowed, "Capture not allowed.",
			func(c *Client) error { _, err := c.Capture(context.Background(), "o", 1, "", "k"); return err }},
		{"om_error_refund.json", RefundNotAllowed, "Over refund is not allowed. Refund not possible.",
			func(c *Client) error { _, err := c.Refund(context.Background(), "o", 1, "", "k"); return err }},
		{"om_error_cancel.json", CancelNotAllowed, "Order has previous captures. Cancel not possible.",
			func(c *Client) error { return c.Cancel(context.Background(), "o", "k") }},
		{"om_error_extend.json", NotAllowed, "Order is expired. Authorization time cannot be extended.",
			func(c *Client) error { return c.ExtendAuthorization(context.Background(), "o", "k") }},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
				answer(w, http.StatusForbidden, testdata(t, tc.file))
			})
			err := tc.call(c)
			if !IsRefused(err) || !IsRefused(err, tc.code) || IsRefused(err, "SOMETHING_ELSE") || ErrorCode(err) != tc.code {
				t.Errorf("%v: refused %v, as %s %v, code %q", err, IsRefused(err), tc.code, IsRefused(err, tc.code), ErrorCode(err))
			}
			if got := Reason(err); got != tc.reason {
				t.Errorf("reason %q, want %q", got, tc.reason)
			}
			if IsNoSuchOrder(err) || f.calls.Load() != 1 {
				t.Errorf("no such order %v; %d tries (a refusal is not retried)", IsNoSuchOrder(err), f.calls.Load())
			}
		})
	}
	_, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		answer(w, http.StatusNotFound, []byte(`{"error_code":"NO_SUCH_ORDER","error_messages":["Order not found"],"correlation_id":"c-1"}`))
	})
	_, err := c.GetOrder(context.Background(), "nope")
	if !IsNoSuchOrder(err) || IsRefused(err) || CorrelationID(err) != "c-1" {
		t.Errorf("404: %v", err)
	}
	// A Payments 404 is not about an order.
	_, err = c.CreateOrder(context.Background(), "auth", OrderRequest{}, "k")
	if IsNoSuchOrder(err) {
		t.Error("create order's 404 counted as no such order")
	}
}

// A 503 is tried again with the same key, as every other call.
func TestCaptureRetries5xxWithTheSameKey(t *testing.T) {
	var keys []string
	f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) {
		keys = append(keys, r.Header.Get("Klarna-Idempotency-Key"))
		if n == 1 {
			answer(w, http.StatusServiceUnavailable, []byte(`{"error_code":"TEMPORARILY_UNAVAILABLE","error_messages":["x"],"correlation_id":"c"}`))
			return
		}
		w.Header().Set("Capture-Id", "cap-9")
		w.WriteHeader(http.StatusCreated)
	})
	id, err := c.Capture(context.Background(), "o", 100, "", "attempt-key")
	if err != nil || id != "cap-9" || f.calls.Load() != 2 || keys[0] != "attempt-key" || keys[1] != "attempt-key" {
		t.Errorf("id %q err %v calls %d keys %v", id, err, f.calls.Load(), keys)
	}
}

// A capture's and a refund's reference goes in the body beside the amount,
// as in Klarna's sample capture ({"captured_amount": 6000, "reference":
// "c9a94cf1-..."}), so the order's captures and refunds show it.
func TestCaptureAndRefundSendTheirReference(t *testing.T) {
	for name, call := range map[string]func(c *Client) error{
		"captured_amount": func(c *Client) error {
			_, err := c.Capture(context.Background(), "o", 6000, "c9a94cf1-7126-4f55-92fa-4d34f416ed7f", "k")
			return err
		},
		"refunded_amount": func(c *Client) error {
			_, err := c.Refund(context.Background(), "o", 6000, "c9a94cf1-7126-4f55-92fa-4d34f416ed7f", "k")
			return err
		},
	} {
		f, c, _ := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte, n int) { w.WriteHeader(http.StatusCreated) })
		if err := call(c); err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(f.last.body, &got); err != nil || len(got) != 2 || got[name] != 6000.0 ||
			got["reference"] != "c9a94cf1-7126-4f55-92fa-4d34f416ed7f" {
			t.Errorf("%s: body %s", name, f.last.body)
		}
	}
}
