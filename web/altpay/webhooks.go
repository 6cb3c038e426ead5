package altpay

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"refshop/web/secret"
)

// TopicInvoicePaid is the webhook topic that "Confirms the invoice has been
// fully paid" (https://docs.alternativepayments.io/getting-started/webhooks).
const TopicInvoicePaid = "invoice_paid"

// Webhook is the API's WebhookSubscription. SecretLast4 is all the API
// shows of the secret_key; the times are strings with no documented
// format, kept as sent.
type Webhook struct {
	ID          string `json:"id"`
	EndpointURL string `json:"endpoint_url"`
	Topic       string `json:"topic"`
	IsActive    bool   `json:"is_active"`
	PartnerID   string `json:"partner_id"`
	SecretLast4 string `json:"secret_last_4_digits"` // null reads as ""
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
}

// NewWebhook is a subscription to ask for: one topic per subscription.
// SecretKey is sent whole once, and comes back on every delivery as
// "Authorization: Bearer <secret_key>".
type NewWebhook struct {
	EndpointURL string
	SecretKey   secret.Secret
	Topic       string
}

// RegisterWebhook is POST /webhooks {endpoint_url, secret_key, topic},
// sent once: like POST /invoices it is not documented as idempotent, and a
// second try after no answer could make a second subscription (two
// deliveries of every event). When the outcome is unknown
// (OutcomeUnknown), the caller looks for it with FindWebhooks.
func (c *Client) RegisterWebhook(ctx context.Context, n NewWebhook) (Webhook, error) {
	var out Webhook
	body := map[string]string{"endpoint_url": n.EndpointURL, "topic": n.Topic}
	if !n.SecretKey.IsZero() {
		body["secret_key"] = n.SecretKey.Reveal() // the recorder redacts it (web/redact: altpay's secret_key)
	}
	err := c.do(ctx, call{op: "create_webhook", method: http.MethodPost, path: "/webhooks", tmpl: "/webhooks", body: body, once: true}, &out)
	return out, err
}

// WebhookFilter is the documented query of GET /webhooks, every field
// optional.
type WebhookFilter struct {
	Topic         string
	Active        *bool
	Limit         int // 0: the API's default (100)
	After, Before string
}

// ListWebhooks is one page of GET /webhooks.
func (c *Client) ListWebhooks(ctx context.Context, f WebhookFilter) (Page[Webhook], error) {
	q := url.Values{}
	if f.Topic != "" {
		q.Set("topic", f.Topic)
	}
	if f.Active != nil {
		q.Set("is_active", strconv.FormatBool(*f.Active))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.After != "" {
		q.Set("after", f.After)
	}
	if f.Before != "" {
		q.Set("before", f.Before)
	}
	path := "/webhooks"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out Page[Webhook]
	err := c.do(ctx, call{op: "list_webhooks", method: http.MethodGet, path: path, tmpl: "/webhooks"}, &out)
	return out, err
}

// MaxWebhookPages bounds FindWebhooks's walk, as MaxInvoicePages does the
// invoices'.
const MaxWebhookPages = 20

// FindWebhooks walks GET /webhooks for topic from its first page and
// returns the subscriptions to endpointURL. The list has no filter on the
// URL, so this matches it here. An empty topic or endpointURL matches
// every one.
func (c *Client) FindWebhooks(ctx context.Context, topic, endpointURL string) ([]Webhook, error) {
	var found []Webhook
	f := WebhookFilter{Topic: topic}
	for n := 1; ; n++ {
		if n > MaxWebhookPages {
			return nil, &Error{Op: "list_webhooks", Kind: KindUnavailable,
				Message: fmt.Sprintf("the search did not end within %d pages of webhook subscriptions", MaxWebhookPages)}
		}
		page, err := c.ListWebhooks(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, w := range page.Data {
			if endpointURL == "" || w.EndpointURL == endpointURL {
				found = append(found, w)
			}
		}
		if f.After = page.next(f.After); f.After == "" {
			return found, nil
		}
	}
}

// DeleteWebhook is DELETE /webhooks/{subscription_id}: it answers the
// subscription removed. An unknown id is a KindNotFound error.
func (c *Client) DeleteWebhook(ctx context.Context, id string) (Webhook, error) {
	var out Webhook
	err := c.do(ctx, call{op: "delete_webhook", method: http.MethodDelete, path: "/webhooks/" + url.PathEscape(id),
		tmpl: "/webhooks/{subscription_id}"}, &out)
	return out, err
}
