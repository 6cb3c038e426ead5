package web

// Alternative Payments webhooks: invoice_paid events, as a prompt to ask.
//
// Alternative Payments documents subscriptions (POST /webhooks
// {endpoint_url, secret_key, topic}; GET and DELETE) and that every delivery
// carries the subscription's secret_key as "Authorization: Bearer
// <secret_key>" (no signature). It does not document the delivered body,
// nor retries (see package altpay). So:
//
//   - The shop subscribes ShopBaseURL+/webhooks/altpay to invoice_paid with a
//     random secret_key of its own, sealed at rest (web/secret). In sandbox
//     mode it keeps the subscription from the start as it keeps every
//     provider's registration (webhooks.go: at start, every
//     webhookCheckEvery, and at once after a sandbox reset); against the
//     real API a person runs `shop altpay-webhook register`. Either way an
//     existing subscription of the shop's is reused: found by URL in the
//     list, and recognised by the last four characters of the secret the
//     provider shows. A subscription to the same URL with a secret the shop
//     does not hold is deleted (its deliveries could only be refused).
//   - POST /webhooks/altpay checks the bearer in constant time (401 when it
//     is not the secret), reads at most altpayWebhookMaxBody, takes only the
//     invoice id (data.id) from the body, and settles the invoice's order
//     the way the order page does: it asks GET /invoices/{id} (sync, under
//     the order's sync work key, so it never runs beside the page's own
//     check) and marks the order paid, its cart emptied, only when the
//     provider says PAID. A body that says paid proves nothing.
//   - Each event is recorded by invoice and topic; once one was confirmed,
//     a repeat answers 200 without asking again.
//   - The answer comes within altpayWebhookDeadline; a provider that has not
//     answered by then gets the sender a 503 (it may retry), while the
//     check goes on.
//   - Polling stays: the invoice page's confirm, the order page and the
//     sweep settle what no webhook reported, and log it (sync).

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/web/altpay"
	"refshop/web/config"
	"refshop/web/inbound"
	"refshop/web/secret"
)

const (
	// altpayWebhookPath is where the shop receives the deliveries.
	altpayWebhookPath = "/webhooks/altpay"
	// altpayWebhookMaxBody bounds a delivery's body: an invoice and its
	// lines fit many times over.
	altpayWebhookMaxBody = 16 << 10
	// altpayWebhookDeadline bounds the answer to a delivery: the sender's
	// timeout is not documented (the sandbox waits 10 s).
	altpayWebhookDeadline = 5 * time.Second
)

// AltpayWebhooks manages the shop's webhook subscription at Alternative
// Payments, and holds what the receiver checks deliveries with. Sandbox
// mode's keeper (webhooks.go) and `shop altpay-webhook` use it.
type AltpayWebhooks struct {
	store  *db.Store
	box    *secret.Box
	client *altpay.Client
	log    *slog.Logger
	env    string // the API base URL: ids and secrets belong to one environment
	url    string // the endpoint the shop subscribes: ShopBaseURL + altpayWebhookPath
}

// NewAltpayWebhooks is the subscription of the shop d configures (d's
// provider clients built, WithProviderClients).
func NewAltpayWebhooks(d Deps) *AltpayWebhooks {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &AltpayWebhooks{store: d.Store, box: d.Box, client: d.Altpay, log: log,
		env: environment(d.Config.Altpay.APIURL), url: d.Config.ShopBaseURL + altpayWebhookPath}
}

// URL is the endpoint URL the shop subscribes.
func (h *AltpayWebhooks) URL() string { return h.url }

// keeper is how RunBackground keeps the subscription (webhooks.go).
func (h *AltpayWebhooks) keeper(mode config.Mode) *webhookKeeper {
	ensure := func(ctx context.Context) (string, bool, error) {
		sub, made, err := h.Ensure(ctx)
		return sub.ID, made, err
	}
	return newWebhookKeeper("altpay webhook", "altpay-webhook", mode, h.url, ensure, h.held)
}

// held reports whether the shop stores a subscription.
func (h *AltpayWebhooks) held(ctx context.Context) (bool, error) {
	row, err := h.store.AltpayWebhookFor(ctx, h.env, altpay.TopicInvoicePaid, h.url)
	if errors.Is(err, db.ErrNotFound) {
		return false, nil
	}
	return err == nil && row.SubscriptionID != "", err
}

// aad binds a sealed secret to its row.
func (h *AltpayWebhooks) aad() string {
	return "altpay_webhook:" + h.env + ":" + altpay.TopicInvoicePaid + ":" + h.url
}

// Ensure makes sure the provider has one active invoice_paid subscription
// to the shop's URL with the secret the shop holds, and returns it; made
// reports whether this call subscribed. The secret is stored (sealed)
// before the subscribe call, so a call whose answer is lost is found by the
// next Ensure instead of being made twice.
func (h *AltpayWebhooks) Ensure(ctx context.Context) (_ altpay.Webhook, made bool, _ error) {
	row, key, err := h.stored(ctx)
	if errors.Is(err, db.ErrNotFound) {
		key = newAltpayWebhookSecret()
		row = db.AltpayWebhook{Environment: h.env, Topic: altpay.TopicInvoicePaid, EndpointURL: h.url}
		if row.SecretSealed, err = h.box.Seal(key.Reveal(), h.aad()); err == nil {
			err = h.store.SaveAltpayWebhook(ctx, row)
		}
	}
	if err != nil {
		return altpay.Webhook{}, false, err
	}
	found, err := h.client.FindWebhooks(ctx, altpay.TopicInvoicePaid, h.url)
	if err != nil {
		return altpay.Webhook{}, false, err
	}
	keep := -1
	for i, w := range found {
		if w.IsActive && w.SecretLast4 == last4(key.Reveal()) && (keep < 0 || w.ID == row.SubscriptionID) {
			keep = i
		}
	}
	for i, w := range found {
		if i == keep {
			continue
		}
		// The shop's URL, a secret it does not hold (or a subscription
		// switched off): every delivery to it would be refused.
		if _, err := h.client.DeleteWebhook(ctx, w.ID); err != nil && !altpay.IsKind(err, altpay.KindNotFound) {
			return altpay.Webhook{}, false, err
		}
		h.log.Info("altpay webhook: deleted a subscription to the shop's URL whose secret the shop does not hold",
			"subscription", w.ID, "active", w.IsActive)
	}
	var sub altpay.Webhook
	if made = keep < 0; !made {
		sub = found[keep]
	} else if sub, err = h.client.RegisterWebhook(ctx, altpay.NewWebhook{EndpointURL: h.url, SecretKey: key, Topic: altpay.TopicInvoicePaid}); err != nil {
		return altpay.Webhook{}, false, err
	}
	if sub.ID != row.SubscriptionID {
		row.SubscriptionID = sub.ID
		if err := h.store.SaveAltpayWebhook(ctx, row); err != nil {
			return altpay.Webhook{}, false, err
		}
	}
	return sub, made, nil
}

// List is every webhook subscription of the account (all topics and URLs).
func (h *AltpayWebhooks) List(ctx context.Context) ([]altpay.Webhook, error) {
	return h.client.FindWebhooks(ctx, "", "")
}

// Delete unsubscribes id; when it is the shop's own subscription the shop
// forgets it and its secret (the next Ensure makes a new one).
func (h *AltpayWebhooks) Delete(ctx context.Context, id string) error {
	if _, err := h.client.DeleteWebhook(ctx, id); err != nil {
		return err
	}
	row, err := h.store.AltpayWebhookFor(ctx, h.env, altpay.TopicInvoicePaid, h.url)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return nil
	case err != nil:
		return err
	case row.SubscriptionID == id:
		return h.store.ForgetAltpayWebhook(ctx, h.env, altpay.TopicInvoicePaid, h.url)
	}
	return nil
}

// stored is the shop's subscription row and its secret, opened.
func (h *AltpayWebhooks) stored(ctx context.Context) (db.AltpayWebhook, secret.Secret, error) {
	row, err := h.store.AltpayWebhookFor(ctx, h.env, altpay.TopicInvoicePaid, h.url)
	if err != nil {
		return row, secret.Secret{}, err
	}
	key, err := h.box.Open(row.SecretSealed, h.aad())
	return row, key, err
}

// authentic reports whether authorization is "Bearer <the shop's
// secret_key>", compared in constant time. No stored secret: nothing is.
func (h *AltpayWebhooks) authentic(ctx context.Context, authorization string) (bool, error) {
	scheme, tok, _ := strings.Cut(authorization, " ")
	_, key, err := h.stored(ctx)
	switch {
	case errors.Is(err, db.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	ok := subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(key.Reveal())) == 1
	return ok && strings.EqualFold(scheme, "Bearer"), nil
}

// newAltpayWebhookSecret is 32 random bytes, URL-safe base64: header-safe.
func newAltpayWebhookSecret() secret.Secret {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return secret.New(base64.RawURLEncoding.EncodeToString(b))
}

func last4(s string) string { return s[max(len(s)-4, 0):] }

// altpayEvent is what the shop reads of a delivery: the topic and the
// invoice id. The body is not documented (the sandbox sends the invoice
// under data); nothing else in it is trusted.
type altpayEvent struct {
	Topic string `json:"topic"`
	Data  struct {
		ID string `json:"id"`
	} `json:"data"`
}

// webhook is POST /webhooks/altpay: see the top of this file. Answers are
// small JSON objects: the sender is a server.
func (f *altpayFlow) webhook(c echo.Context) error {
	a := f.a
	req := c.Request()
	ctx := req.Context()
	answer := func(status int, what string) error { return c.JSON(status, map[string]string{"status": what}) }
	ok, err := f.hooks.authentic(ctx, req.Header.Get("Authorization"))
	switch {
	case err != nil:
		a.Log.Error("altpay webhook: reading the shop's secret", "error", err)
		return answer(http.StatusServiceUnavailable, "unavailable")
	case !ok:
		a.Log.Warn("altpay webhook: refused a delivery without the shop's secret_key", "request_id", requestID(c))
		return answer(http.StatusUnauthorized, "unauthorized")
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, altpayWebhookMaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return answer(http.StatusRequestEntityTooLarge, "body too large")
	case err != nil:
		return answer(http.StatusBadRequest, "unreadable body")
	}
	var ev altpayEvent
	if err := json.Unmarshal(body, &ev); err != nil || strings.TrimSpace(ev.Data.ID) == "" {
		a.Log.Warn("altpay webhook: a delivery without an invoice id", "request_id", requestID(c))
		return answer(http.StatusBadRequest, "no data.id")
	}
	if ev.Topic != altpay.TopicInvoicePaid {
		a.Log.Info("altpay webhook: ignored a topic the shop does not act on", "topic", ev.Topic)
		return answer(http.StatusOK, "ignored")
	}
	invoiceID := ev.Data.ID
	orderID, err := a.Store.AltpayInvoiceOrder(ctx, f.env(), invoiceID)
	switch {
	case errors.Is(err, db.ErrNotFound):
		a.Log.Info("altpay webhook: an invoice no order of the shop's has; nothing to do", "invoice", invoiceID)
		return answer(http.StatusOK, "unknown invoice")
	case err != nil:
		return err
	}
	inbound.SetOrder(c, orderID) // the shop's secret, the order's invoice: its page lists the delivery
	settled, err := a.Store.ReceiveAltpayWebhookEvent(ctx, f.env(), invoiceID, ev.Topic)
	if err != nil {
		return err
	}
	if settled {
		return answer(http.StatusOK, "duplicate")
	}
	o, err := a.Store.OrderByID(ctx, orderID)
	if err != nil {
		return err
	}
	inv, err := a.Store.AltpayInvoiceFor(ctx, orderID)
	if err != nil {
		return err
	}
	c.Set(ctxProviderDeadline, time.Now().Add(min(a.providerDeadline(), altpayWebhookDeadline)))
	paid, err := f.syncWithin(c, o, inv)
	var ue *UserError
	switch {
	case errors.Is(err, errConfirming):
		return answer(http.StatusServiceUnavailable, "still asking the provider")
	case errors.As(err, &ue):
		// The invoice is gone, or paid but not the order's to settle: the
		// shop logged it for a person; a retry would not change it.
		return answer(http.StatusOK, "needs a person")
	case err != nil:
		a.Log.Warn("altpay webhook: asking for the invoice failed; the sender may retry", "invoice", invoiceID, "error", err)
		return answer(http.StatusServiceUnavailable, "provider unavailable")
	case !paid:
		// The event said paid, the provider says not (yet): nothing
		// changes, and a later delivery asks again.
		a.Log.Warn("altpay webhook: invoice_paid for an invoice the provider says is not paid; nothing changed",
			"order", o.PublicID, "invoice", invoiceID)
		return answer(http.StatusOK, "not paid")
	}
	if err := a.Store.SettleAltpayWebhookEvent(ctx, f.env(), invoiceID, ev.Topic); err != nil {
		return err
	}
	return answer(http.StatusOK, "settled")
}

// logUnreported logs at Info when polling (not a webhook) settled invoice:
// with webhooks working, that should be rare.
func (f *altpayFlow) logUnreported(ctx context.Context, o db.Order, invoiceID string) {
	reported, err := f.a.Store.AltpayWebhookReported(ctx, f.env(), invoiceID, altpay.TopicInvoicePaid)
	if err == nil && !reported {
		f.a.Log.Info("altpay: polling settled an invoice no webhook reported", "order", o.PublicID, "invoice", invoiceID)
	}
}
