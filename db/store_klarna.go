package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"
)

// A customer_token belongs to the Klarna environment that issued it, its API
// base URL: a user has one link per environment, and the shop reads only the
// one of the environment it is configured with.

// KlarnaLink is a user's Klarna account link as stored. Sealed is the
// customer_token sealed with the shop's key ("" when not linked); Version is
// 0 when the user never had a row. Klarna may answer an order with a new
// customer_token that replaces the stored one, so writers compare-and-swap
// on Version. See
// https://docs.klarna.com/klarna-payments/in-depth-knowledge/customer-token/
type KlarnaLink struct {
	UserID      int64
	Sealed      string
	Hint        string // masked token
	Version     int64
	LinkedAt    time.Time
	RefreshedAt time.Time
}

// Linked reports whether a token is stored.
func (l KlarnaLink) Linked() bool { return l.Sealed != "" }

// KlarnaLink reads the user's link in environment; a user without a row
// there gets a zero link with Version 0.
func (s *Store) KlarnaLink(ctx context.Context, environment string, userID int64) (_ KlarnaLink, err error) {
	defer wrap(&err, "klarna link")
	l := KlarnaLink{UserID: userID}
	var sealed, linked, refreshed sql.NullString
	err = s.db.Write.QueryRowContext(ctx, `
		SELECT token_sealed, token_hint, version, linked_at, refreshed_at FROM klarna_links
		WHERE user_id = ? AND environment = ?`, userID, environment).
		Scan(&sealed, &l.Hint, &l.Version, &linked, &refreshed)
	if errors.Is(err, sql.ErrNoRows) {
		return l, nil
	}
	if err != nil {
		return KlarnaLink{}, err
	}
	l.Sealed = sealed.String
	if l.Sealed == "" {
		l.Hint = ""
	}
	l.LinkedAt, l.RefreshedAt = parseTime(linked.String), parseTime(refreshed.String)
	return l, nil
}

// SwapKlarnaToken stores a sealed token if the user's link in environment
// is still at version expect (0: the user has no row there yet): a
// compare-and-swap. It returns the new version, or ErrStale when another
// request changed the link first. The link's start time is kept when a
// token replaces a token (rotation) and set when the user was not linked.
func (s *Store) SwapKlarnaToken(ctx context.Context, environment string, userID, expect int64, sealed, hint string) (_ int64, err error) {
	defer wrap(&err, "swap klarna token")
	if sealed == "" {
		return 0, errors.New("no token to store")
	}
	now := s.now()
	if expect == 0 {
		err = swapOne(ctx, s.db.Write, `
			INSERT INTO klarna_links(user_id, environment, token_sealed, token_hint, version, linked_at, refreshed_at, updated_at)
			VALUES(?, ?, ?, ?, 1, ?, ?, ?) ON CONFLICT(user_id, environment) DO NOTHING`, userID, environment, sealed, hint, now, now, now)
	} else {
		err = swapOne(ctx, s.db.Write, `
			UPDATE klarna_links SET token_sealed = ?, token_hint = ?, version = version + 1,
			       linked_at = CASE WHEN token_sealed IS NULL THEN ? ELSE linked_at END,
			       refreshed_at = ?, updated_at = ?
			WHERE user_id = ? AND environment = ? AND version = ?`, sealed, hint, now, now, now, userID, environment, expect)
	}
	if err != nil {
		return 0, err
	}
	return expect + 1, nil
}

// ClearKlarnaToken unlinks in environment: it clears the token if the link
// is still at version expect, keeping the row so versions never repeat.
func (s *Store) ClearKlarnaToken(ctx context.Context, environment string, userID, expect int64) (err error) {
	defer wrap(&err, "clear klarna token")
	return swapOne(ctx, s.db.Write, `
		UPDATE klarna_links SET token_sealed = NULL, token_hint = '', version = version + 1,
		       linked_at = NULL, refreshed_at = NULL, updated_at = ?
		WHERE user_id = ? AND environment = ? AND version = ? AND token_sealed IS NOT NULL`, s.now(), userID, environment, expect)
}

// Kinds of Klarna payment.
const (
	KlarnaWidget = "widget" // the customer approves in Klarna's widget (checkout, and "Buy again")
	// KlarnaCustomerToken is an old "Buy again" made server to server with
	// the account-linking token, which Klarna documents no endpoint for. The
	// shop makes none any more; one left open is for a person to settle.
	KlarnaCustomerToken = "customer_token"
)

// KlarnaPayment is the Klarna side of one order (payment attempt).
type KlarnaPayment struct {
	OrderID int64
	// Environment is the Klarna API the attempt was made at (its base URL;
	// "" for attempts from before environments were kept): the shop asks
	// only the API it is configured with about its attempts.
	Environment     string
	Kind            string
	SessionID       string
	ClientToken     string
	Intent          string
	SentToken       bool   // the session carried the stored customer_token
	SentAccessToken bool   // the session carried a Sign in with Klarna access token
	SourceOrder     string // "Buy again": the public id of the order repeated (its lines, not the cart's, are bought)
	CorrelationID   string
	CreatedAt       time.Time
	// Categories are the session's payment_method_categories, as Klarna
	// named them; nil when not known (an attempt from before they were
	// kept).
	Categories []KlarnaCategory
	KlarnaSubmission
	// CallbackToken is the one-time token of the attempt's callback URLs
	// (Klarna's authorization callback and pending-order notification),
	// sealed; "" for an attempt made before the shop took callbacks.
	CallbackToken string
	// FraudStatus is Klarna's fraud_status of the placed order as the shop
	// last learned it: klarna.FraudAccepted, FraudPending (do not ship) or
	// FraudRejected; "" while no order is known.
	FraudStatus string
	// SettleAfter is when the sweep next asks Klarna about the attempt;
	// zero once there is nothing left to ask. SettleTries counts its failed
	// tries.
	SettleAfter time.Time
	SettleTries int
}

// KlarnaCategory is one of a session's payment_method_categories.
type KlarnaCategory struct {
	Identifier string `json:"identifier"`
	Name       string `json:"name"`
}

func encodeCategories(c []KlarnaCategory) (string, error) {
	if c == nil {
		return "", nil
	}
	b, err := json.Marshal(c)
	return string(b), err
}

func decodeCategories(s string) ([]KlarnaCategory, error) {
	if s == "" {
		return nil, nil
	}
	c := []KlarnaCategory{}
	return c, json.Unmarshal([]byte(s), &c)
}

// KlarnaSubmission is the order request an attempt sent Klarna, stored
// before the first try so that every retry is the same request with the same
// key. Key is "" until the attempt is submitted.
type KlarnaSubmission struct {
	Key           string // Klarna-Idempotency-Key
	Request       string // the body as first sent (JSON, no secrets)
	Authorization string // the widget's authorization token, sealed; "" for "Buy again"
}

// Submitted reports whether the attempt sent an order request.
func (p KlarnaPayment) Submitted() bool { return p.Key != "" }

// CreateKlarnaPayment records the Klarna side of an order.
func (s *Store) CreateKlarnaPayment(ctx context.Context, p KlarnaPayment) (err error) {
	defer wrap(&err, "create klarna payment")
	if p.OrderID == 0 || p.Environment == "" || p.Kind == "" {
		return errors.New("a Klarna payment needs its order, environment and kind")
	}
	cats, err := encodeCategories(p.Categories)
	if err != nil {
		return err
	}
	_, err = s.db.Write.ExecContext(ctx, `
		INSERT INTO klarna_payments(order_id, environment, kind, session_id, client_token, intent, sent_token, sent_access_token, source_order,
			payment_method_categories, order_key, order_request, authorization_sealed, settle_after_ms, callback_token_sealed, created_at)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.OrderID, p.Environment, p.Kind, p.SessionID, p.ClientToken, p.Intent, p.SentToken, p.SentAccessToken, p.SourceOrder,
		cats, p.Key, p.Request, p.Authorization, nullMillis(p.SettleAfter), p.CallbackToken, s.now())
	return err
}

// KlarnaPaymentByOrder reads the Klarna side of an order.
func (s *Store) KlarnaPaymentByOrder(ctx context.Context, orderID int64) (_ KlarnaPayment, err error) {
	defer wrap(&err, "klarna payment by order")
	var p KlarnaPayment
	var created string
	var settle sql.NullInt64
	var cats string
	err = s.db.Read.QueryRowContext(ctx, `
		SELECT order_id, environment, kind, session_id, client_token, intent, sent_token, sent_access_token, source_order, correlation_id,
		       created_at, payment_method_categories, order_key, order_request, authorization_sealed, settle_after_ms, settle_tries,
		       callback_token_sealed, fraud_status
		FROM klarna_payments WHERE order_id = ?`, orderID).
		Scan(&p.OrderID, &p.Environment, &p.Kind, &p.SessionID, &p.ClientToken, &p.Intent, &p.SentToken, &p.SentAccessToken, &p.SourceOrder,
			&p.CorrelationID, &created, &cats, &p.Key, &p.Request, &p.Authorization, &settle, &p.SettleTries,
			&p.CallbackToken, &p.FraudStatus)
	if err != nil {
		return p, noRows(err)
	}
	p.CreatedAt, p.SettleAfter = parseTime(created), fromMillis(settle)
	p.Categories, err = decodeCategories(cats)
	return p, err
}

// SetKlarnaCorrelationID records the correlation id of the last Klarna error
// for an order, the reference support asks for.
func (s *Store) SetKlarnaCorrelationID(ctx context.Context, orderID int64, id string) (err error) {
	defer wrap(&err, "set klarna correlation id")
	_, err = s.db.Write.ExecContext(ctx, `UPDATE klarna_payments SET correlation_id = ? WHERE order_id = ?`, id, orderID)
	return err
}

// SubmitKlarnaOrder records the order request an attempt is about to send,
// once: ErrStale when the attempt was submitted already (another request
// did it first; the caller reads it back and sends that one). settleAfter is
// when the sweep may ask Klarna about it, later than any request could still
// be waiting for Klarna's answer.
func (s *Store) SubmitKlarnaOrder(ctx context.Context, orderID int64, sub KlarnaSubmission, settleAfter time.Time) (err error) {
	defer wrap(&err, "submit klarna order")
	if sub.Key == "" || sub.Request == "" {
		return errors.New("a submission needs its key and request")
	}
	return swapOne(ctx, s.db.Write, `
		UPDATE klarna_payments SET order_key = ?, order_request = ?, authorization_sealed = ?, settle_after_ms = ?, settle_tries = 0
		WHERE order_id = ? AND order_key = ''`, sub.Key, sub.Request, sub.Authorization, settleAfter.UnixMilli(), orderID)
}

// WithdrawKlarnaOrder forgets the submission with key: Klarna answered every
// try and its session shows no order, so nothing of it is left to settle and
// the customer may approve again. settleAfter is when the sweep looks at the
// attempt next (its session's end). ErrStale when another submission
// replaced it.
func (s *Store) WithdrawKlarnaOrder(ctx context.Context, orderID int64, key string, settleAfter time.Time) (err error) {
	defer wrap(&err, "withdraw klarna order")
	return swapOne(ctx, s.db.Write, `
		UPDATE klarna_payments SET order_key = '', order_request = '', authorization_sealed = '', settle_after_ms = ?
		WHERE order_id = ? AND order_key = ?`, settleAfter.UnixMilli(), orderID, key)
}

// SetKlarnaSettleAfter moves the attempt's next settle time; zero means
// nothing is left to settle.
func (s *Store) SetKlarnaSettleAfter(ctx context.Context, orderID int64, at time.Time) (err error) {
	defer wrap(&err, "set klarna settle after")
	_, err = s.db.Write.ExecContext(ctx, `UPDATE klarna_payments SET settle_after_ms = ? WHERE order_id = ?`,
		nullMillis(at), orderID)
	return err
}

// KlarnaSettleFailed counts one failed try of the sweep on the attempt and
// moves its settle time to next, so the attempts behind it go first. It
// returns the failed tries so far.
func (s *Store) KlarnaSettleFailed(ctx context.Context, orderID int64, next time.Time) (tries int, err error) {
	defer wrap(&err, "klarna settle failed")
	err = s.db.Write.QueryRowContext(ctx, `
		UPDATE klarna_payments SET settle_tries = settle_tries + 1, settle_after_ms = ?
		WHERE order_id = ? RETURNING settle_tries`, next.UnixMilli(), orderID).Scan(&tries)
	return tries, noRows(err)
}

// KlarnaAttemptsToSettle lists the public ids of Klarna attempts due to be
// settled at now in environment: pending ones, and authorized ones whose
// Klarna order id the shop never got, with fewer than maxTries failed tries,
// the longest waiting first.
func (s *Store) KlarnaAttemptsToSettle(ctx context.Context, environment string, now time.Time, maxTries, limit int) (_ []string, err error) {
	defer wrap(&err, "klarna attempts to settle")
	return list(ctx, s, func(r scanner) (string, error) {
		var id string
		err := r.Scan(&id)
		return id, err
	}, `
		SELECT o.public_id FROM klarna_payments k JOIN orders o ON o.id = k.order_id
		WHERE k.environment = ? AND k.settle_after_ms <= ? AND k.settle_tries < ?
		AND (o.status = ? OR (o.status = ? AND o.provider_reference IS NULL))
		ORDER BY k.settle_after_ms LIMIT ?`, environment, now.UnixMilli(), maxTries, StatusPending, StatusAuthorized, limit)
}

// SetKlarnaOrderFound records the Klarna order id of an attempt already
// marked paid without it (its confirmation was lost), with the order's new
// detail, and ends its settling. ErrStale when the order has an id already
// or is no longer authorized.
func (s *Store) SetKlarnaOrderFound(ctx context.Context, orderID int64, ref, detail string) (err error) {
	defer wrap(&err, "set klarna order found")
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := swapOne(ctx, tx, `
			UPDATE orders SET provider_reference = ?, status_detail = ?, updated_at = ?
			WHERE id = ? AND provider = ? AND provider_reference IS NULL AND status = ?`,
			ref, detail, s.now(), orderID, ProviderKlarna, StatusAuthorized); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE klarna_payments SET settle_after_ms = NULL WHERE order_id = ?`, orderID)
		return err
	})
}

// SetKlarnaFraudStatus records the fraud_status create order answered for
// the attempt's order, once: a status learned since (the end of Klarna's
// review) is not overwritten by a late copy of that answer.
func (s *Store) SetKlarnaFraudStatus(ctx context.Context, orderID int64, status string) (err error) {
	defer wrap(&err, "set klarna fraud status")
	_, err = s.db.Write.ExecContext(ctx, `UPDATE klarna_payments SET fraud_status = ? WHERE order_id = ? AND fraud_status = ''`,
		status, orderID)
	return err
}

// KlarnaFraudDecided records the end of Klarna's review of an order (its
// fraud_status now, from Order Management) and, in the same transaction,
// what it means for the order while it is authorized: cancel moves it to
// cancelled, else only its detail changes. An order with captures
// (captured_amount > 0: a capture accepts the risk of a rejected order,
// and what was taken stays taken) is never cancelled here: it keeps its
// status and takes capturedDetail, and afterCapture reports it, for a
// person to look at. An order in another status (shipped, cancelled by the
// back office) keeps it. ErrStale when the order's fraud status was status
// already (a repeated notification): nothing changes.
func (s *Store) KlarnaFraudDecided(ctx context.Context, orderID int64, status string, cancel bool, detail, capturedDetail string) (afterCapture bool, err error) {
	defer wrap(&err, "klarna fraud decided")
	err = s.tx(ctx, func(tx *sql.Tx) error {
		afterCapture = false // the transaction may run again (Store.tx)
		if err := swapOne(ctx, tx, `UPDATE klarna_payments SET fraud_status = ? WHERE order_id = ? AND fraud_status <> ?`,
			status, orderID, status); err != nil {
			return err
		}
		if !cancel {
			_, err := tx.ExecContext(ctx, `UPDATE orders SET status_detail = ?, updated_at = ? WHERE id = ? AND status = ?`,
				detail, s.now(), orderID, StatusAuthorized)
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE orders SET status = ?, status_detail = ?, updated_at = ?
			WHERE id = ? AND status = ? AND captured_amount = 0`, StatusCancelled, detail, s.now(), orderID, StatusAuthorized)
		if n, err := rowsOf(res, err); err != nil || n == 1 {
			return err
		}
		res, err = tx.ExecContext(ctx, `UPDATE orders SET status_detail = ?, updated_at = ?
			WHERE id = ? AND status = ? AND captured_amount > 0`, capturedDetail, s.now(), orderID, StatusAuthorized)
		n, err := rowsOf(res, err)
		afterCapture = n == 1
		return err
	})
	return afterCapture && err == nil, err
}

// rowsOf is how many rows an Exec changed.
func rowsOf(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
