package vipps

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"refshop/web/secret"
)

// The Webhooks API v1 (doc.go, "Webhooks"): register, list and delete the
// URLs Vipps posts the ePayment events to.

// The ePayment event types a webhook subscribes to; the payload's name is
// the upper-case middle word (epayments.payment.authorized.v1: AUTHORIZED).
const (
	EventCreated    = "epayments.payment.created.v1"
	EventAborted    = "epayments.payment.aborted.v1"
	EventExpired    = "epayments.payment.expired.v1"
	EventCancelled  = "epayments.payment.cancelled.v1"
	EventCaptured   = "epayments.payment.captured.v1"
	EventRefunded   = "epayments.payment.refunded.v1"
	EventAuthorized = "epayments.payment.authorized.v1"
	EventTerminated = "epayments.payment.terminated.v1"
)

// PaymentEvents are all eight ePayment event types.
var PaymentEvents = []string{EventCreated, EventAborted, EventExpired, EventCancelled,
	EventCaptured, EventRefunded, EventAuthorized, EventTerminated}

// Webhook is one registration as GET /webhooks/v1/webhooks lists it: no
// secret (Vipps shows it once, in the register answer).
type Webhook struct {
	ID     string   `json:"id"`
	URL    string   `json:"url"`
	Events []string `json:"events"`
}

// Registered is the register answer: the registration's id and the secret
// that signs its deliveries, shown this once.
type Registered struct {
	ID     string
	Secret secret.Secret
}

// WebhookEvent is the body of an ePayment webhook delivery. pspReference is
// the event's own (not the payment's from GET payment), and idempotencyKey
// is that of the merchant's call that caused it, when there was one.
type WebhookEvent struct {
	MSN            string    `json:"msn"`
	Reference      string    `json:"reference"`
	PSPReference   string    `json:"pspReference"`
	Name           string    `json:"name"` // CREATED, AUTHORIZED, CAPTURED, ...
	Amount         Amount    `json:"amount"`
	Timestamp      time.Time `json:"timestamp"`
	IdempotencyKey *string   `json:"idempotencyKey"`
	Success        bool      `json:"success"`
}

const webhooksPath = "/webhooks/v1/webhooks"

// RegisterWebhook registers rawURL for events. The Webhooks API takes no
// Idempotency-Key, so the call is sent once: after no answer, the caller
// lists the registrations before it registers again.
func (c *Client) RegisterWebhook(ctx context.Context, rawURL string, events []string) (Registered, error) {
	var out struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	body := struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}{rawURL, events}
	err := c.do(ctx, call{op: op("webhooks_register", webhooksPath), method: http.MethodPost, path: webhooksPath, body: body, once: true}, &out)
	if err != nil {
		return Registered{}, err
	}
	if out.ID == "" || out.Secret == "" {
		return Registered{}, &Error{Op: "webhooks_register", Status: http.StatusCreated, Kind: KindUnavailable,
			err: errors.New("the answer has no id or no secret")}
	}
	return Registered{ID: out.ID, Secret: secret.New(out.Secret)}, nil
}

// ListWebhooks lists the registrations of the sales unit (the MSN sent).
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	var out struct {
		Webhooks []Webhook `json:"webhooks"`
	}
	err := c.do(ctx, call{op: op("webhooks_list", webhooksPath), method: http.MethodGet, path: webhooksPath}, &out)
	return out.Webhooks, err
}

// DeleteWebhook deletes the registration id.
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.do(ctx, call{op: op("webhooks_delete", webhooksPath+"/{id}"), method: http.MethodDelete,
		path: webhooksPath + "/" + url.PathEscape(id)}, nil)
}
