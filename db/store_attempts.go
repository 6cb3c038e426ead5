package db

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
)

// A payment attempt is an order: the cart's contents, for one payment method.
// A cart has at most one open (pending) attempt per method at a time
// (orders_open_attempt_idx), so a second submit finds the first attempt
// instead of making a second payment that could be paid as well.

// Why the shop closed an attempt, as its customer reads it on the order page.
const (
	DetailClosedPaid = "Closed: this cart was paid with another payment attempt. Nothing was charged for this one."
	DetailReplaced   = "Replaced by a newer payment attempt: the cart changed. Nothing was charged for this one."
)

// closable is the condition under which the shop may close an open attempt
// itself: no order request of it was sent to Klarna. Klarna Payments has no
// call that takes back an order the shop has not seen (an authorization
// only lapses), so an attempt whose create-order was sent stays open until
// the sweep learns what Klarna made of it. (A Vipps payment or an invoice
// of a closed attempt is released by its flow: a cancel, an archive.)
const closable = `NOT EXISTS (SELECT 1 FROM klarna_payments kp WHERE kp.order_id = orders.id AND kp.order_key != '')`

// OpenAttempt returns the open attempt of n's cart for n.Provider, or makes
// one from n. The open attempt is reused (reused true) only when it is for
// the same owner, market, currency, lines and sales tax; otherwise the cart changed since it
// was made (or a guest's cart became an account's), so it is closed
// (DetailReplaced, marked for release) and a new one is made, in the same
// transaction. An attempt that cannot be closed (its Klarna order request
// was sent: closable) is returned as it is, reused: the customer sees how
// it stands, and no second payment is started for the cart.
func (s *Store) OpenAttempt(ctx context.Context, n NewOrder) (_ Order, reused bool, err error) {
	defer wrap(&err, "open attempt")
	if n.CartID == 0 {
		return Order{}, false, errors.New("an attempt needs its cart")
	}
	o, err := newOrderRow(n)
	if err != nil {
		return Order{}, false, err
	}
	var openID int64
	err = s.tx(ctx, func(tx *sql.Tx) error {
		openID = 0 // the transaction may run again (Store.tx)
		var cur Order
		var canClose bool
		err := tx.QueryRowContext(ctx, `
			SELECT id, COALESCE(user_id, 0), COALESCE(guest_id, ''), market, currency, sales_tax, `+closable+` FROM orders
			WHERE cart_id = ? AND provider = ? AND status = ?`, n.CartID, n.Provider, StatusPending).
			Scan(&cur.ID, &cur.UserID, &cur.GuestID, &cur.Market, &cur.Currency, &cur.SalesTax, &canClose)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			if cur.Lines, err = orderLines(ctx, tx, cur.ID); err != nil {
				return err
			}
			same := cur.UserID == n.UserID && cur.GuestID == n.GuestID && cur.Market == n.Market &&
				cur.Currency == n.Currency && cur.SalesTax == n.SalesTax && SameLines(cur.Lines, n.Lines)
			if same || !canClose {
				openID = cur.ID
				return nil
			}
			// Still pending and closable: what was read is what is closed.
			if err := swapOne(ctx, tx, `
				UPDATE orders SET status = ?, status_detail = ?, release_due = 1, updated_at = ?
				WHERE id = ? AND status = ? AND `+closable,
				StatusCancelled, DetailReplaced, s.now(), cur.ID, StatusPending); err != nil {
				return err
			}
		}
		return s.insertOrder(ctx, tx, &o)
	})
	if err != nil {
		return Order{}, false, err
	}
	if openID != 0 {
		o, err := s.orderWithLines(ctx, `id = ?`, openID)
		return o, true, err
	}
	return o, false, nil
}

// SameLines reports whether two orders buy the same: the same products in
// the same quantities at the same prices, in any order.
func SameLines(a, b []OrderLine) bool {
	byProduct := func(x, y OrderLine) int { return cmp.Compare(x.ProductID, y.ProductID) }
	a, b = slices.SortedFunc(slices.Values(a), byProduct), slices.SortedFunc(slices.Values(b), byProduct)
	return slices.Equal(a, b)
}

// CloseAttempt closes an open attempt the shop will not go on with (its
// provider object no longer fits, or is gone): pending to status (cancelled
// or failed) with a customer-safe detail, marked for release. ErrStale when
// the attempt is no longer pending, or cannot be closed (closable).
func (s *Store) CloseAttempt(ctx context.Context, orderID int64, status Status, detail string) (err error) {
	defer wrap(&err, "close attempt")
	if status != StatusCancelled && status != StatusFailed {
		return errors.New("an attempt is closed as cancelled or failed")
	}
	return swapOne(ctx, s.db.Write, `
		UPDATE orders SET status = ?, status_detail = ?, release_due = 1, updated_at = ?
		WHERE id = ? AND status = ? AND `+closable, status, detail, s.now(), orderID, StatusPending)
}

// AttemptsToRelease lists closed attempts whose provider object may still be
// open, oldest first, at most limit: those of cartID, or of every cart when
// cartID is 0.
func (s *Store) AttemptsToRelease(ctx context.Context, cartID int64, limit int) (_ []Order, err error) {
	defer wrap(&err, "attempts to release")
	return list(ctx, s, scanOrder, `
		SELECT `+orderColumns+` FROM orders
		WHERE release_due = 1 AND (? = 0 OR cart_id = ?) ORDER BY id LIMIT ?`, cartID, cartID, limit)
}

// AttemptReleased records that a closed attempt's provider object was
// released (or there was nothing to release).
func (s *Store) AttemptReleased(ctx context.Context, orderID int64) (err error) {
	defer wrap(&err, "attempt released")
	_, err = s.db.Write.ExecContext(ctx, `UPDATE orders SET release_due = 0 WHERE id = ?`, orderID)
	return err
}

// scanString reads a row of one text column (a public id).
func scanString(r scanner) (string, error) {
	var v string
	err := r.Scan(&v)
	return v, err
}

// OpenAttemptsByKey lists a user's open (pending) attempts for provider whose
// idempotency key starts with prefix, newest first, with their lines: the
// attempts a flow makes outside the cart ("Buy again") keep one open at a
// time by their key's prefix.
func (s *Store) OpenAttemptsByKey(ctx context.Context, userID int64, provider Provider, prefix string) (_ []Order, err error) {
	defer wrap(&err, "open attempts by key")
	orders, err := list(ctx, s, scanOrder, `
		SELECT `+orderColumns+` FROM orders
		WHERE user_id = ? AND provider = ? AND status = ? AND substr(idempotency_key, 1, length(?)) = ?
		ORDER BY id DESC`, userID, provider, StatusPending, prefix, prefix)
	if err != nil {
		return nil, err
	}
	for i := range orders {
		if orders[i].Lines, err = orderLines(ctx, s.db.Read, orders[i].ID); err != nil {
			return nil, err
		}
	}
	return orders, nil
}
