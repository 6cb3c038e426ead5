package vipps_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"refshop/web/outbound/outboundtest"
	"refshop/web/vipps"
)

// Register, list and delete against the sandbox, through the recorder:
// the register answer's secret never reaches a recorded exchange.
func TestWebhooksRegisterListDeleteRecordedWithoutTheSecret(t *testing.T) {
	rec := outboundtest.New(t, nil)
	h := newHarness(t, func(c *vipps.Config) { c.HTTP = rec.Client })
	ctx := context.Background()
	const hook = "https://shop.example/webhooks/vipps"

	reg, err := h.client.RegisterWebhook(ctx, hook, vipps.PaymentEvents)
	if err != nil || reg.ID == "" || reg.Secret.IsZero() {
		t.Fatalf("register: %+v %v", reg, err)
	}
	list, err := h.client.ListWebhooks(ctx)
	if err != nil || len(list) != 1 || list[0].ID != reg.ID || list[0].URL != hook || len(list[0].Events) != len(vipps.PaymentEvents) {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := h.client.DeleteWebhook(ctx, reg.ID); err != nil {
		t.Fatal(err)
	}
	if list, err := h.client.ListWebhooks(ctx); err != nil || len(list) != 0 {
		t.Fatalf("after delete: %+v %v", list, err)
	}
	// Deleting it again: the sandbox says 404 (the docs name no answer).
	if err := h.client.DeleteWebhook(ctx, reg.ID); !vipps.IsKind(err, vipps.KindNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// Refused: the problem names the field.
	_, err = h.client.RegisterWebhook(ctx, "ftp://shop.example/hook", vipps.PaymentEvents)
	var e *vipps.Error
	if !vipps.IsKind(err, vipps.KindInvalid) || !errors.As(err, &e) || !e.Field("url") {
		t.Fatalf("a bad URL: %v", err)
	}

	var ops []string
	for _, x := range rec.Exchanges(t) {
		ops = append(ops, x.Operation+" "+x.Method+" "+x.PathTemplate)
		if x.Operation == "webhooks_register" && x.Status == 201 && !strings.Contains(x.RespBody, `"secret":"[redacted`) {
			t.Errorf("the register answer is recorded as %s", x.RespBody)
		}
	}
	want := "accesstoken POST /accesstoken/get,webhooks_register POST /webhooks/v1/webhooks,webhooks_list GET /webhooks/v1/webhooks," +
		"webhooks_delete DELETE /webhooks/v1/webhooks/{id},webhooks_list GET /webhooks/v1/webhooks," +
		"webhooks_delete DELETE /webhooks/v1/webhooks/{id},webhooks_register POST /webhooks/v1/webhooks"
	if strings.Join(ops, ",") != want {
		t.Errorf("recorded\n%s\nwant\n%s", strings.Join(ops, "\n"), strings.ReplaceAll(want, ",", "\n"))
	}
	rec.NoSecretRecorded(t, clientSec, subKey, reg.Secret.Reveal())
}

// A register that gets no answer is not sent again by the client: the
// Webhooks API takes no Idempotency-Key, and a second try could make a
// second registration whose secret nobody saw.
func TestRegisterWebhookIsSentOnce(t *testing.T) {
	h := newHarness(t)
	h.sb.Fault(t, "vipps.webhooks_register", 503, 1)
	if _, err := h.client.RegisterWebhook(context.Background(), "https://shop.example/webhooks/vipps", vipps.PaymentEvents); !vipps.IsKind(err, vipps.KindUnavailable) {
		t.Fatalf("register with a 503: %v", err)
	}
	if n := h.st.Calls("vipps.webhooks_register"); n != 1 {
		t.Errorf("register sent %d times, want once", n)
	}
}
