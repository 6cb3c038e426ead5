package klarna

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"refshop/web/redact"
	"refshop/web/sandbox/deliveries"
)

// Klarna's calls to the merchant (doc.go, "Callbacks"): the authorization
// callback to merchant_urls.authorization when the customer approves, and
// the pending-order notification to merchant_urls.notification when the
// fraud review ends. Both go through the sandbox's delivery engine, so they
// show in GET /control/deliveries and take faults and replays.

// The delivery operations (faults, counts, the delivery log).
const (
	opAuthorizationCallback = "klarna.authorization_callback"
	opFraudNotification     = "klarna.fraud_notification"
)

// The pending-order notification's event types.
const (
	eventFraudAccepted = "FRAUD_RISK_ACCEPTED"
	eventFraudRejected = "FRAUD_RISK_REJECTED"
)

// authorizationCallback is the documented body: "A sample callback request
// from Klarna" shows exactly these two fields.
type authorizationCallback struct {
	AuthorizationToken string `json:"authorization_token"`
	SessionID          string `json:"session_id"`
}

// fraudNotification is the documented body of the pending-order
// notification ({"order_id", "event_type"}). The page mentions a decision
// timestamp but its sample has no such field, so none is sent.
type fraudNotification struct {
	OrderID   string `json:"order_id"`
	EventType string `json:"event_type"`
}

// registerCallbacks tells the delivery engine how Klarna's two calls go.
// Neither is signed (Klarna documents no signature: the merchant's URL
// carries its own token), so there is no Signer.
func (p *provider) registerCallbacks() {
	p.st.DeliveryOperations(opAuthorizationCallback, opFraudNotification)
	eng := p.st.Deliveries
	if eng == nil {
		return
	}
	eng.Register(opAuthorizationCallback, deliveries.Provider{Backoff: authorizationBackoff,
		RetryFor: AuthorizationTTL, Timeout: callbackTimeout, RedactURL: redactURL})
	eng.Register(opFraudNotification, deliveries.Provider{Backoff: func(int) time.Duration { return notificationEvery },
		RetryFor: notificationRetryFor, Timeout: callbackTimeout, RedactURL: redactURL,
		Accepts: func(status int) bool { return status == http.StatusOK }})
}

// authorizationBackoff: Klarna documents no retries for the authorization
// callback (nor a timeout or the answer it expects). The sandbox retries
// soon, then less often, and stops when the authorization itself lapses
// (AuthorizationTTL, 60 minutes): after that the token it carries can place
// no order.
func authorizationBackoff(n int) time.Duration {
	switch {
	case n == 1:
		return 10 * time.Second
	case n == 2:
		return 30 * time.Second
	case n == 3:
		return time.Minute
	case n == 4:
		return 5 * time.Minute
	}
	return 10 * time.Minute
}

// The pending-order notification's schedule: "We send the notifications
// every 10 minutes for 24 hours or until you reply to our POST request with
// a 200 code."
const (
	notificationEvery    = 10 * time.Minute
	notificationRetryFor = 24 * time.Hour
)

// callbackTimeout bounds each attempt; Klarna documents none for either
// call (chosen: the same 10 seconds as the Vipps webhooks).
const callbackTimeout = 10 * time.Second

// redactURL is a callback URL as the delivery log shows it: the merchant's
// token in it (Klarna recommends "a one-time token" in the authorization
// URL) redacted by the shop's recording rules (the query parameter token).
func redactURL(u string) string {
	return redact.Redact("klarna", redact.Exchange{Method: http.MethodPost, URL: u}).URL
}

// fill replaces the placeholders Klarna documents for merchant_urls,
// {session.id} and {order.id}.
func fill(raw, sessionID, orderID string) string {
	return strings.NewReplacer("{order.id}", url.QueryEscape(orderID), "{session.id}", url.QueryEscape(sessionID)).Replace(raw)
}

// notifyAuthorized sends the authorization callback for a, when its
// session has merchant_urls.authorization. Callers hold p.mu.
func (p *provider) notifyAuthorized(s *session, a *authorization) {
	u := s.Body.MerchantURLs
	if u == nil || u.Authorization == nil || *u.Authorization == "" {
		return
	}
	body, _ := json.Marshal(authorizationCallback{AuthorizationToken: a.Token, SessionID: s.ID})
	p.deliver(deliveries.Delivery{Provider: "klarna", Operation: opAuthorizationCallback, Event: "authorization",
		Ref: s.ID, Target: s.ID, URL: fill(*u.Authorization, s.ID, ""), Body: string(body)})
}

// notifyFraudDecision sends the pending-order notification for o, when it
// was placed with merchant_urls.notification. Callers hold p.mu.
func (p *provider) notifyFraudDecision(o *order, event string) {
	if o.NotificationURL == "" {
		return
	}
	body, _ := json.Marshal(fraudNotification{OrderID: o.ID, EventType: event})
	p.deliver(deliveries.Delivery{Provider: "klarna", Operation: opFraudNotification, Event: event,
		Ref: o.ID, Target: o.ID, URL: fill(o.NotificationURL, o.SessionID, o.ID), Body: string(body)})
}

func (p *provider) deliver(d deliveries.Delivery) {
	eng := p.st.Deliveries
	if eng == nil {
		return
	}
	if _, err := eng.Enqueue(d); err != nil {
		p.log.Error("sandbox klarna: storing a delivery failed", "operation", d.Operation, "ref", d.Ref, "error", err)
	}
}

// notificationURL is the merchant's notification URL from the order
// request, else from the session.
func notificationURL(b wireBody, s *session) string {
	for _, u := range []*wireMerchantURLs{b.MerchantURLs, s.Body.MerchantURLs} {
		if u != nil && u.Notification != nil && *u.Notification != "" {
			return *u.Notification
		}
	}
	return ""
}
