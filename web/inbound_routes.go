package web

// The providers' calls to the shop, as web/inbound records them: one Route
// per receiver, named as the sandbox names its deliveries, and what event
// each delivers. Each receiver names the order with inbound.SetOrder once it
// has checked the call (vipps_webhook_receive.go, klarna_callbacks.go,
// altpay_webhook.go).

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"refshop/web/inbound"
	"refshop/web/vipps"
)

var (
	vippsWebhookRoute = inbound.Route{Provider: "vipps", Operation: "webhook_delivery", Path: vippsWebhookPath,
		Event: vippsDeliveredEvent}
	klarnaAuthorizationRoute = inbound.Route{Provider: "klarna", Operation: "authorization_callback",
		Path: klarnaCallbackPrefix + klarnaAuthorizationCallback + "/{order}"}
	klarnaNotificationRoute = inbound.Route{Provider: "klarna", Operation: "fraud_notification",
		Path: klarnaCallbackPrefix + klarnaNotificationCallback + "/{order}", Event: jsonField("event_type")}
	altpayWebhookRoute = inbound.Route{Provider: "altpay", Operation: "webhook_delivery", Path: altpayWebhookPath,
		Event: jsonField("topic")}
)

// recordInbound records the calls to a receiver's route r.
func (a *App) recordInbound(r inbound.Route) echo.MiddlewareFunc {
	return inbound.Record(a.Recorder, r, a.handleError)
}

// vippsDeliveredEvent is the event type of a Vipps MobilePay delivery: its
// name is the type's upper-case middle word (AUTHORIZED:
// epayments.payment.authorized.v1); "" for a name of no ePayment event.
func vippsDeliveredEvent(body []byte) string {
	name := jsonField("name")(body)
	if typ := "epayments.payment." + strings.ToLower(name) + ".v1"; name != "" && slices.Contains(vipps.PaymentEvents, typ) {
		return typ
	}
	return ""
}

// jsonField reads a top-level string field of a JSON body; "" when there
// is none.
func jsonField(name string) func([]byte) string {
	return func(body []byte) string {
		var fields map[string]json.RawMessage
		var v string
		if json.Unmarshal(body, &fields) != nil || json.Unmarshal(fields[name], &v) != nil {
			return ""
		}
		return v
	}
}
