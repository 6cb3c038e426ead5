// Package inbound records the calls providers make to the shop (Vipps
// MobilePay's webhook deliveries, Klarna's callbacks, Alternative Payments'
// webhook deliveries) as exchanges of the order they are about, so the
// order page shows them beside the shop's own calls: Record is an echo
// middleware around each receiver's route.
//
// It hands each call to the shop's one exchange recorder
// (outbound.Recorder.Receive): the same queue, the same redaction rules
// (web/redact; the credential a provider presents to the shop, a webhook
// secret or a signature, is marked as a credential), the same store, with
// the origin "provider". The request's body is read once, up to the
// recorder's limit, and given to the receiver again from its start; the
// shop's answer (status, headers, body) is copied as it is written, and
// the call is recorded once the receiver has returned. A repeat delivery is
// a call of its own, and so a record of its own.
//
// Only the receiver knows which order a call is about, and only once it
// has checked the call: it says so with SetOrder. A call it names no order
// for (a refused signature, an unknown reference) is kept under no order:
// nothing is lost for a person looking into a delivery that went nowhere,
// no customer's page shows a call nobody vouched for, and the background
// prunes it after the retention like any exchange.
package inbound

import (
	"github.com/labstack/echo/v4"

	"refshop/web/outbound"
)

// Route is a receiver's route, as its calls are recorded.
type Route struct {
	Provider  string // "vipps", "klarna", "altpay"
	Operation string // as the sandbox names the delivery: "webhook_delivery", "authorization_callback"
	Path      string // the route's path template: "/callbacks/klarna/authorization/{order}"
	// Event reads the event a call's body delivers ("invoice_paid"; "" for
	// none); nil: the route delivers none. It reads the body as sent,
	// before redaction, so it must return nothing secret; what it returns
	// is kept only when it looks like an event's name (eventName).
	Event func(body []byte) string
}

// orderKey is where SetOrder leaves the order on the echo context.
const orderKey = "inbound.order"

// SetOrder names the order the call being received is about, once the
// receiver has checked the call and found the order: the record is filed
// under it.
func SetOrder(c echo.Context, orderID int64) { c.Set(orderKey, orderID) }

// orderOf is the order SetOrder named; 0: none.
func orderOf(c echo.Context) int64 {
	id, _ := c.Get(orderKey).(int64)
	return id
}

// Record records every call to the route r in rec. onError renders a
// receiver's error into the answer before the answer is recorded (the shop's
// central error handler): the record holds what the provider got. A nil rec
// records nothing.
func Record(rec *outbound.Recorder, r Route, onError func(error, echo.Context)) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if rec == nil {
			return next
		}
		return func(c echo.Context) error {
			req := c.Request()
			url := c.Scheme() + "://" + req.Host + req.URL.RequestURI()
			in, req := rec.Receive(req, outbound.Op{Provider: r.Provider, Name: r.Operation, Path: r.Path}, url)
			c.SetRequest(req)
			res := c.Response()
			res.Writer = in.Writer(res.Writer)
			if err := next(c); err != nil {
				onError(err, c)
			}
			event := ""
			if r.Event != nil && in.Body() != nil {
				event = eventName(r.Event(in.Body()))
			}
			in.Done(res.Status, res.Header(), orderOf(c), event)
			return nil
		}
	}
}

// eventName is s when it looks like the name of an event
// ("epayments.payment.authorized.v1", "FRAUD_RISK_ACCEPTED"): at most 64
// letters, digits, dots, dashes and underscores; else "". A body need not
// be authentic to be recorded, and the page shows the name.
func eventName(s string) string {
	if len(s) > 64 {
		return ""
	}
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '-', c == '_':
		default:
			return ""
		}
	}
	return s
}
