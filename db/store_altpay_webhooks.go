package db

import "context"

// AltpayWebhook is the shop's webhook subscription at Alternative Payments
// for one environment, topic and endpoint URL (web/altpay_webhook.go).
type AltpayWebhook struct {
	Environment, Topic, EndpointURL string
	// SecretSealed is the secret_key, sealed (web/secret); the store never
	// sees it in the clear.
	SecretSealed string
	// SubscriptionID is the provider's id; "" while the subscribe call's
	// outcome is unknown.
	SubscriptionID string
}

// AltpayWebhookFor returns the subscription for environment, topic and
// endpointURL; ErrNotFound when the shop has none.
func (s *Store) AltpayWebhookFor(ctx context.Context, environment, topic, endpointURL string) (_ AltpayWebhook, err error) {
	defer wrap(&err, "altpay webhook")
	w := AltpayWebhook{Environment: environment, Topic: topic, EndpointURL: endpointURL}
	err = s.db.Write.QueryRowContext(ctx, `
		SELECT secret_sealed, COALESCE(subscription_id, '') FROM altpay_webhooks
		WHERE environment = ? AND topic = ? AND endpoint_url = ?`, environment, topic, endpointURL).
		Scan(&w.SecretSealed, &w.SubscriptionID)
	return w, noRows(err)
}

// SaveAltpayWebhook stores w, replacing the row of its environment, topic
// and endpoint URL.
func (s *Store) SaveAltpayWebhook(ctx context.Context, w AltpayWebhook) (err error) {
	defer wrap(&err, "save altpay webhook")
	now := s.now()
	_, err = s.db.Write.ExecContext(ctx, `
		INSERT INTO altpay_webhooks(environment, topic, endpoint_url, secret_sealed, subscription_id, created_at, updated_at)
		VALUES(?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(environment, topic, endpoint_url) DO UPDATE
		SET secret_sealed = excluded.secret_sealed, subscription_id = excluded.subscription_id, updated_at = excluded.updated_at`,
		w.Environment, w.Topic, w.EndpointURL, w.SecretSealed, nullString(w.SubscriptionID), now, now)
	return err
}

// ForgetAltpayWebhook deletes the subscription row (the provider's
// subscription was deleted).
func (s *Store) ForgetAltpayWebhook(ctx context.Context, environment, topic, endpointURL string) (err error) {
	defer wrap(&err, "forget altpay webhook")
	_, err = s.db.Write.ExecContext(ctx, `
		DELETE FROM altpay_webhooks WHERE environment = ? AND topic = ? AND endpoint_url = ?`, environment, topic, endpointURL)
	return err
}

// ReceiveAltpayWebhookEvent records that an event of topic about invoiceID
// arrived (once: a repeat keeps the first row) and reports whether one was
// settled before, which makes this one a duplicate.
func (s *Store) ReceiveAltpayWebhookEvent(ctx context.Context, environment, invoiceID, topic string) (settled bool, err error) {
	defer wrap(&err, "receive altpay webhook event")
	if _, err = s.db.Write.ExecContext(ctx, `
		INSERT INTO altpay_webhook_events(environment, invoice_id, topic, received_at) VALUES(?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, environment, invoiceID, topic, s.now()); err != nil {
		return false, err
	}
	var at string
	err = s.db.Write.QueryRowContext(ctx, `
		SELECT COALESCE(settled_at, '') FROM altpay_webhook_events WHERE environment = ? AND invoice_id = ? AND topic = ?`,
		environment, invoiceID, topic).Scan(&at)
	return at != "", err
}

// SettleAltpayWebhookEvent marks the event settled: the provider confirmed
// it and the order is up to date. A settled one keeps its first time.
func (s *Store) SettleAltpayWebhookEvent(ctx context.Context, environment, invoiceID, topic string) (err error) {
	defer wrap(&err, "settle altpay webhook event")
	_, err = s.db.Write.ExecContext(ctx, `
		UPDATE altpay_webhook_events SET settled_at = ?
		WHERE environment = ? AND invoice_id = ? AND topic = ? AND settled_at IS NULL`, s.now(), environment, invoiceID, topic)
	return err
}

// AltpayWebhookReported reports whether any event of topic about invoiceID
// has arrived, settled or not.
func (s *Store) AltpayWebhookReported(ctx context.Context, environment, invoiceID, topic string) (_ bool, err error) {
	defer wrap(&err, "altpay webhook reported")
	var n int
	err = s.db.Write.QueryRowContext(ctx, `
		SELECT COUNT(*) FROM altpay_webhook_events WHERE environment = ? AND invoice_id = ? AND topic = ?`,
		environment, invoiceID, topic).Scan(&n)
	return n > 0, err
}
