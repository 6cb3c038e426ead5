package db

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

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

// KlarnaLink reads the user's link; a user without a row gets a zero link
// with Version 0.
func (s *Store) KlarnaLink(ctx context.Context, userID int64) (_ KlarnaLink, err error) {
	defer wrap(&err, "klarna link")
	l := KlarnaLink{UserID: userID}
	var sealed, linked, refreshed sql.NullString
	err = s.db.Write.QueryRowContext(ctx, `
		SELECT token_sealed, token_hint, version, linked_at, refreshed_at FROM klarna_links WHERE user_id = ?`, userID).
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

// SwapKlarnaToken stores a sealed token if the user's link is still at
// version expect (0: the user has no row yet): a compare-and-swap. It
// returns the new version, or ErrStale when another request changed the link
// first. The link's start time is kept when a token replaces a token
// (rotation) and set when the user was not linked.
func (s *Store) SwapKlarnaToken(ctx context.Context, userID, expect int64, sealed, hint string) (_ int64, err error) {
	defer wrap(&err, "swap klarna token")
	if sealed == "" {
		return 0, errors.New("no token to store")
	}
	now := s.now()
	if expect == 0 {
		err = swapOne(ctx, s.db.Write, `
			INSERT INTO klarna_links(user_id, token_sealed, token_hint, version, linked_at, refreshed_at, updated_at)
			VALUES(?, ?, ?, 1, ?, ?, ?) ON CONFLICT(user_id) DO NOTHING`, userID, sealed, hint, now, now, now)
	} else {
		err = swapOne(ctx, s.db.Write, `
			UPDATE klarna_links SET token_sealed = ?, token_hint = ?, version = version + 1,
			       linked_at = CASE WHEN token_sealed IS NULL THEN ? ELSE linked_at END,
			       refreshed_at = ?, updated_at = ?
			WHERE user_id = ? AND version = ?`, sealed, hint, now, now, now, userID, expect)
	}
	if err != nil {
		return 0, err
	}
	return expect + 1, nil
}

// ClearKlarnaToken unlinks: it clears the token if the link is still at
// version expect, keeping the row so versions never repeat.
func (s *Store) ClearKlarnaToken(ctx context.Context, userID, expect int64) (err error) {
	defer wrap(&err, "clear klarna token")
	return swapOne(ctx, s.db.Write, `
		UPDATE klarna_links SET token_sealed = NULL, token_hint = '', version = version + 1,
		       linked_at = NULL, refreshed_at = NULL, updated_at = ?
		WHERE user_id = ? AND version = ? AND token_sealed IS NOT NULL`, s.now(), userID, expect)
}

// Kinds of Klarna payment.
const (
	KlarnaWidget        = "widget"         // the customer approves in Klarna's widget
	KlarnaCustomerToken = "customer_token" // "Buy again": server to server with the stored token
)

// KlarnaPayment is the Klarna side of one order (payment attempt).
type KlarnaPayment struct {
	OrderID       int64
	Kind          string
	SessionID     string
	ClientToken   string
	Intent        string
	SentToken     bool
	SourceOrder   string // "Buy again": the public id of the order repeated
	CorrelationID string
	CreatedAt     time.Time
}

// CreateKlarnaPayment records the Klarna side of an order.
func (s *Store) CreateKlarnaPayment(ctx context.Context, p KlarnaPayment) (err error) {
	defer wrap(&err, "create klarna payment")
	_, err = s.db.Write.ExecContext(ctx, `
		INSERT INTO klarna_payments(order_id, kind, session_id, client_token, intent, sent_token, source_order, created_at)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?)`,
		p.OrderID, p.Kind, p.SessionID, p.ClientToken, p.Intent, p.SentToken, p.SourceOrder, s.now())
	return err
}

// KlarnaPaymentByOrder reads the Klarna side of an order.
func (s *Store) KlarnaPaymentByOrder(ctx context.Context, orderID int64) (_ KlarnaPayment, err error) {
	defer wrap(&err, "klarna payment by order")
	var p KlarnaPayment
	var created string
	err = s.db.Read.QueryRowContext(ctx, `
		SELECT order_id, kind, session_id, client_token, intent, sent_token, source_order, correlation_id, created_at
		FROM klarna_payments WHERE order_id = ?`, orderID).
		Scan(&p.OrderID, &p.Kind, &p.SessionID, &p.ClientToken, &p.Intent, &p.SentToken, &p.SourceOrder, &p.CorrelationID, &created)
	p.CreatedAt = parseTime(created)
	return p, noRows(err)
}

// SetKlarnaCorrelationID records the correlation id of the last Klarna error
// for an order, the reference support asks for.
func (s *Store) SetKlarnaCorrelationID(ctx context.Context, orderID int64, id string) (err error) {
	defer wrap(&err, "set klarna correlation id")
	_, err = s.db.Write.ExecContext(ctx, `UPDATE klarna_payments SET correlation_id = ? WHERE order_id = ?`, id, orderID)
	return err
}
