package db

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// VippsPayment is the Vipps MobilePay ePayment behind one order. Its
// Idempotency-Keys are stored before the first call so every retry sends the
// same ones. See https://developer.vippsmobilepay.com/docs/APIs/epayment-api
// and https://developer.vippsmobilepay.com/docs/knowledge-base/http-headers#idempotency
type VippsPayment struct {
	OrderID int64
	// Environment is the Vipps API the payment was created at (its base
	// URL; "" for payments from before environments were kept): the shop
	// asks only the API it is configured with about its payments.
	Environment  string
	Reference    string
	CreateKey    string // Idempotency-Keys, fixed when the payment is first stored
	CancelKey    string // (a capture is a back office operation, with its own key)
	RedirectURL  string // the landing page while the customer may still answer
	PSPReference string
	State        string // Vipps's last reported state; "" until create answered
	Captured     int64  // captured amount, minor units, as last read
	SettleAfter  time.Time
	SettleTries  int       // the sweep's failed tries so far (VippsSettleFailed)
	CheckedAt    time.Time // zero: never asked
	CreatedAt    time.Time
}

// VippsEvent is one entry of a payment's event log.
type VippsEvent struct {
	Name           string
	Currency       string
	Amount         int64
	OccurredAt     time.Time
	IdempotencyKey string // "" for the customer's own actions
	Success        bool
}

// CreateVippsPayment stores a payment's reference and keys before the first
// call to Vipps, so a retry after a crash reuses them.
func (s *Store) CreateVippsPayment(ctx context.Context, p VippsPayment) (err error) {
	defer wrap(&err, "create vipps payment")
	if p.OrderID == 0 || p.Environment == "" || p.Reference == "" || p.CreateKey == "" || p.CancelKey == "" {
		return errors.New("a Vipps payment needs its order, environment, reference and keys")
	}
	_, err = s.db.Write.ExecContext(ctx, `
		INSERT INTO vipps_payments(order_id, environment, reference, create_key, cancel_key, settle_after, created_at)
		VALUES(?, ?, ?, ?, ?, ?, ?)`,
		p.OrderID, p.Environment, p.Reference, p.CreateKey, p.CancelKey, stamp(p.SettleAfter), s.now())
	return err
}

const vippsColumns = `order_id, environment, reference, create_key, cancel_key, redirect_url, psp_reference,
	state, captured, settle_after, settle_tries, COALESCE(checked_at, ''), created_at`

func scanVipps(row scanner) (VippsPayment, error) {
	var p VippsPayment
	var settle, checked, created string
	err := row.Scan(&p.OrderID, &p.Environment, &p.Reference, &p.CreateKey, &p.CancelKey, &p.RedirectURL,
		&p.PSPReference, &p.State, &p.Captured, &settle, &p.SettleTries, &checked, &created)
	p.SettleAfter, p.CheckedAt, p.CreatedAt = parseTime(settle), parseTime(checked), parseTime(created)
	return p, noRows(err)
}

// VippsPaymentByOrder returns the order's payment, or ErrNotFound.
func (s *Store) VippsPaymentByOrder(ctx context.Context, orderID int64) (_ VippsPayment, err error) {
	defer wrap(&err, "vipps payment by order")
	return scanVipps(s.db.Read.QueryRowContext(ctx, `SELECT `+vippsColumns+` FROM vipps_payments WHERE order_id = ?`, orderID))
}

// VippsPaymentByReference returns the payment with the ePayment reference
// ref, or ErrNotFound.
func (s *Store) VippsPaymentByReference(ctx context.Context, ref string) (_ VippsPayment, err error) {
	defer wrap(&err, "vipps payment by reference")
	return scanVipps(s.db.Read.QueryRowContext(ctx, `SELECT `+vippsColumns+` FROM vipps_payments WHERE reference = ?`, ref))
}

// SetVippsCreated records create's answer.
func (s *Store) SetVippsCreated(ctx context.Context, orderID int64, redirectURL string) (err error) {
	defer wrap(&err, "set vipps created")
	_, err = s.db.Write.ExecContext(ctx, `
		UPDATE vipps_payments SET redirect_url = ?, state = CASE WHEN state = '' THEN 'CREATED' ELSE state END
		WHERE order_id = ?`, redirectURL, orderID)
	return err
}

// SetVippsState records what Vipps said about the payment. The landing page
// link is forgotten once the payment no longer waits for the customer. An
// answer read before another request's capture or approval (two requests or
// two processes settling at once) cannot undo what that one recorded: a
// payment never goes back to CREATED, and a captured amount never shrinks.
func (s *Store) SetVippsState(ctx context.Context, orderID int64, state, pspReference string, captured int64) (err error) {
	defer wrap(&err, "set vipps state")
	_, err = s.db.Write.ExecContext(ctx, `
		UPDATE vipps_payments SET
		       state = CASE WHEN ?1 = 'CREATED' AND state NOT IN ('', 'CREATED') THEN state ELSE ?1 END,
		       psp_reference = CASE WHEN ?2 = '' THEN psp_reference ELSE ?2 END,
		       captured = `+s.db.greatest("captured", "?3")+`, checked_at = ?4,
		       redirect_url = CASE WHEN ?1 = 'CREATED' THEN redirect_url ELSE '' END
		WHERE order_id = ?5`, state, pspReference, captured, s.now(), orderID)
	return err
}

// ReplaceVippsEvents stores the payment's event log as Vipps last reported it.
func (s *Store) ReplaceVippsEvents(ctx context.Context, orderID int64, events []VippsEvent) (err error) {
	defer wrap(&err, "replace vipps events")
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM vipps_events WHERE order_id = ?`, orderID); err != nil {
			return err
		}
		for i, e := range events {
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO vipps_events(order_id, seq, name, currency, amount, occurred_at, idempotency_key, success)
				VALUES(?, ?, ?, ?, ?, ?, ?, ?)`,
				orderID, i+1, e.Name, e.Currency, e.Amount, stamp(e.OccurredAt), nullString(e.IdempotencyKey), e.Success); err != nil {
				return err
			}
		}
		return nil
	})
}

// VippsEvents lists the stored event log, oldest first.
func (s *Store) VippsEvents(ctx context.Context, orderID int64) (_ []VippsEvent, err error) {
	defer wrap(&err, "vipps events")
	return list(ctx, s, func(r scanner) (VippsEvent, error) {
		var e VippsEvent
		var at string
		err := r.Scan(&e.Name, &e.Currency, &e.Amount, &at, &e.IdempotencyKey, &e.Success)
		e.OccurredAt = parseTime(at)
		return e, err
	}, `
		SELECT name, currency, amount, occurred_at, COALESCE(idempotency_key, ''), success
		FROM vipps_events WHERE order_id = ? ORDER BY seq`, orderID)
}

// VippsOrdersToSettle lists the public ids of Vipps orders still pending
// (an authorized one waits for the back office to ship it) whose payment was created in environment, is past its settle
// time and has failed fewer than maxTries sweeps, oldest settle time first.
func (s *Store) VippsOrdersToSettle(ctx context.Context, environment string, now time.Time, maxTries, limit int) (_ []string, err error) {
	defer wrap(&err, "vipps orders to settle")
	return list(ctx, s, scanString, `
		SELECT o.public_id FROM vipps_payments v JOIN orders o ON o.id = v.order_id
		WHERE o.status = ? AND v.environment = ? AND v.settle_after <= ? AND v.settle_tries < ?
		ORDER BY v.settle_after LIMIT ?`, StatusPending, environment, stamp(now), maxTries, limit)
}

// VippsSettleFailed counts one failed sweep of the order's payment and moves
// its settle time to next, so the sweep first settles the orders behind it.
// It returns the failed tries so far.
func (s *Store) VippsSettleFailed(ctx context.Context, orderID int64, next time.Time) (tries int, err error) {
	defer wrap(&err, "vipps settle failed")
	return s.settleFailed(ctx, "vipps_payments", orderID, next)
}
