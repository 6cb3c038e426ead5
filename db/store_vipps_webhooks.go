package db

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// The Vipps MobilePay webhook (web/vipps_webhook*.go): the shop's one
// registration per Vipps environment and URL, claimed through this table so
// that several instances on one database register once, and the events
// Vipps delivered, each stored once.

// VippsWebhook is the shop's registration with the Webhooks API.
type VippsWebhook struct {
	Environment  string
	URL          string
	Claim        string // the token of the instance that registers (or registered) it
	ClaimedAt    time.Time
	WebhookID    string // "" while the claimant registers
	Secret       string // sealed (web/secret); "" while the claimant registers
	RegisteredAt time.Time
}

// Registered reports whether the row holds a registration.
func (w VippsWebhook) Registered() bool { return w.WebhookID != "" && w.Secret != "" }

// VippsWebhookByURL returns the registration row, or ErrNotFound.
func (s *Store) VippsWebhookByURL(ctx context.Context, environment, url string) (_ VippsWebhook, err error) {
	defer wrap(&err, "vipps webhook by url")
	var w VippsWebhook
	var claimed, registered string
	err = s.db.Read.QueryRowContext(ctx, `
		SELECT environment, url, claim, claimed_at, webhook_id, secret, COALESCE(registered_at, '')
		FROM vipps_webhooks WHERE environment = ? AND url = ?`, environment, url).
		Scan(&w.Environment, &w.URL, &w.Claim, &claimed, &w.WebhookID, &w.Secret, &registered)
	w.ClaimedAt, w.RegisteredAt = parseTime(claimed), parseTime(registered)
	return w, noRows(err)
}

// ClaimVippsWebhook makes the row for environment and url with claim, if
// there is none: claimed reports whether this call made it, and so may
// register. Another instance's row stays as it is.
func (s *Store) ClaimVippsWebhook(ctx context.Context, environment, url, claim string) (claimed bool, err error) {
	defer wrap(&err, "claim vipps webhook")
	res, err := s.db.Write.ExecContext(ctx, `
		INSERT INTO vipps_webhooks(environment, url, claim, claimed_at) VALUES(?, ?, ?, ?)
		ON CONFLICT(environment, url) DO NOTHING`, environment, url, claim, s.now())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReclaimVippsWebhook takes the row over for claim when it still holds
// prevClaim (compare-and-swap), forgetting its registration: the stored one
// is gone at Vipps, its secret cannot be opened, or its claimant stopped
// before it registered. ErrStale: another instance took it first.
func (s *Store) ReclaimVippsWebhook(ctx context.Context, environment, url, prevClaim, claim string) (err error) {
	defer wrap(&err, "reclaim vipps webhook")
	return affected(s.db.Write.ExecContext(ctx, `
		UPDATE vipps_webhooks SET claim = ?, claimed_at = ?, webhook_id = '', secret = '', registered_at = NULL
		WHERE environment = ? AND url = ? AND claim = ?`, claim, s.now(), environment, url, prevClaim))
}

// SetVippsWebhook stores the registration made under claim. ErrStale: the
// claim was taken over meanwhile, and this registration is not the shop's.
func (s *Store) SetVippsWebhook(ctx context.Context, environment, url, claim, webhookID, sealedSecret string) (err error) {
	defer wrap(&err, "set vipps webhook")
	if webhookID == "" || sealedSecret == "" {
		return errors.New("a registration needs its id and sealed secret")
	}
	return affected(s.db.Write.ExecContext(ctx, `
		UPDATE vipps_webhooks SET webhook_id = ?, secret = ?, registered_at = ?
		WHERE environment = ? AND url = ? AND claim = ?`, webhookID, sealedSecret, s.now(), environment, url, claim))
}

// DeleteVippsWebhook forgets the row whose registration is webhookID (the
// registration was deleted at Vipps). A row that holds another is kept.
func (s *Store) DeleteVippsWebhook(ctx context.Context, environment, webhookID string) (err error) {
	defer wrap(&err, "delete vipps webhook")
	_, err = s.db.Write.ExecContext(ctx, `DELETE FROM vipps_webhooks WHERE environment = ? AND webhook_id = ?`, environment, webhookID)
	return err
}

// VippsWebhookEvent is one event Vipps delivered for one of the shop's
// payments.
type VippsWebhookEvent struct {
	ID             int64
	OrderID        int64
	MSN            string
	Reference      string
	PSPReference   string // the event's own
	Name           string
	Amount         int64
	Currency       string
	OccurredAt     time.Time
	Success        bool
	IdempotencyKey string // "" when the event carries none
	ReceivedAt     time.Time
	SettledAt      time.Time // zero: the shop has not acted on it yet
	Tries          int       // the sweep's failed tries at acting on it
}

// AddVippsWebhookEvent stores e unless an event with its pspReference and
// name is stored already. It returns the stored event, its first copy when
// this is a repeat (fresh false).
func (s *Store) AddVippsWebhookEvent(ctx context.Context, e VippsWebhookEvent) (_ VippsWebhookEvent, fresh bool, err error) {
	defer wrap(&err, "add vipps webhook event")
	var id int64
	err = s.db.Write.QueryRowContext(ctx, `
		INSERT INTO vipps_webhook_events(order_id, msn, reference, psp_reference, name, amount, currency, occurred_at,
		       success, idempotency_key, received_at)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(psp_reference, name) DO NOTHING RETURNING id`,
		e.OrderID, e.MSN, e.Reference, e.PSPReference, e.Name, e.Amount, e.Currency, stamp(e.OccurredAt),
		e.Success, nullString(e.IdempotencyKey), s.now()).Scan(&id)
	fresh = err == nil
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return e, false, err
	}
	stored, err := scanVippsWebhookEvent(s.db.Write.QueryRowContext(ctx, `SELECT `+vippsWebhookEventColumns+`
		FROM vipps_webhook_events WHERE psp_reference = ? AND name = ?`, e.PSPReference, e.Name))
	return stored, fresh, err
}

// SetVippsWebhookEventSettled records that the shop acted on event id.
func (s *Store) SetVippsWebhookEventSettled(ctx context.Context, id int64) (err error) {
	defer wrap(&err, "set vipps webhook event settled")
	_, err = s.db.Write.ExecContext(ctx, `UPDATE vipps_webhook_events SET settled_at = ? WHERE id = ? AND settled_at IS NULL`, s.now(), id)
	return err
}

// VippsWebhookEventsToSettle lists, oldest first, the events received
// before receivedBefore that the shop has not acted on, whose next try is
// due at now and that failed fewer than maxTries times: the receiver
// answered Vipps before its work ended and the work failed (or the shop
// stopped), so the sweep acts on them.
func (s *Store) VippsWebhookEventsToSettle(ctx context.Context, receivedBefore, now time.Time, maxTries, limit int) (_ []VippsWebhookEvent, err error) {
	defer wrap(&err, "vipps webhook events to settle")
	return list(ctx, s, scanVippsWebhookEvent, `SELECT `+vippsWebhookEventColumns+`
		FROM vipps_webhook_events
		WHERE settled_at IS NULL AND received_at < ? AND (next_try_at IS NULL OR next_try_at <= ?) AND tries < ?
		ORDER BY received_at, id LIMIT ?`, stamp(receivedBefore), stamp(now), maxTries, limit)
}

// VippsWebhookEventFailed counts one failed try of the sweep on event id
// and moves its next try to next. It returns the failed tries so far.
func (s *Store) VippsWebhookEventFailed(ctx context.Context, id int64, next time.Time) (tries int, err error) {
	defer wrap(&err, "vipps webhook event failed")
	err = s.db.Write.QueryRowContext(ctx, `UPDATE vipps_webhook_events SET tries = tries + 1, next_try_at = ?
		WHERE id = ? AND settled_at IS NULL RETURNING tries`, stamp(next), id).Scan(&tries)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil // acted on meanwhile
	}
	return tries, err
}

// VippsWebhookEvents lists the events received for an order, oldest first.
func (s *Store) VippsWebhookEvents(ctx context.Context, orderID int64) (_ []VippsWebhookEvent, err error) {
	defer wrap(&err, "vipps webhook events")
	return list(ctx, s, scanVippsWebhookEvent, `SELECT `+vippsWebhookEventColumns+`
		FROM vipps_webhook_events WHERE order_id = ? ORDER BY occurred_at, id`, orderID)
}

const vippsWebhookEventColumns = `id, order_id, msn, reference, psp_reference, name, amount, currency, occurred_at, success,
	COALESCE(idempotency_key, ''), received_at, COALESCE(settled_at, ''), tries`

func scanVippsWebhookEvent(r scanner) (VippsWebhookEvent, error) {
	var e VippsWebhookEvent
	var at, received, settled string
	err := r.Scan(&e.ID, &e.OrderID, &e.MSN, &e.Reference, &e.PSPReference, &e.Name, &e.Amount, &e.Currency, &at, &e.Success,
		&e.IdempotencyKey, &received, &settled, &e.Tries)
	e.OccurredAt, e.ReceivedAt, e.SettledAt = parseTime(at), parseTime(received), parseTime(settled)
	return e, noRows(err)
}
