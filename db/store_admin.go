package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// The back office's queries (web/admin*.go): every order, the money the
// provider reported for each, and the operations administrators ran on
// them.

// ErrBusy: another operation on the order is still in flight.
var ErrBusy = errors.New("another operation on this order is in flight")

// Amounts is an order's money as its provider last reported it, in minor
// units of the order's currency.
type Amounts struct {
	Authorized int64 // reserved
	Captured   int64 // taken
	Refunded   int64 // paid back
	Cancelled  int64 // released
	ReportedAt time.Time
}

// Uncaptured is what is still reserved and neither taken nor released.
func (a Amounts) Uncaptured() int64 { return max(a.Authorized-a.Captured-a.Cancelled, 0) }

// Refundable is what was taken and not yet paid back.
func (a Amounts) Refundable() int64 { return max(a.Captured-a.Refunded, 0) }

// SetOrderAmounts records the money as the provider reported it. A total
// never shrinks at the provider, so a report read before another request's
// operation (two requests or two processes at once) cannot undo what that
// one recorded.
func (s *Store) SetOrderAmounts(ctx context.Context, orderID int64, a Amounts) (err error) {
	defer wrap(&err, "set order amounts")
	g := s.db.greatest
	_, err = s.db.Write.ExecContext(ctx, `
		UPDATE orders SET authorized_amount = `+g("authorized_amount", "?")+`, captured_amount = `+g("captured_amount", "?")+`,
		       refunded_amount = `+g("refunded_amount", "?")+`, cancelled_amount = `+g("cancelled_amount", "?")+`, amounts_at = ?
		WHERE id = ?`, a.Authorized, a.Captured, a.Refunded, a.Cancelled, s.now(), orderID)
	return err
}

// OperationKind is what a back office operation does with the payment.
type OperationKind string

const (
	OpCapture OperationKind = "capture" // take (part of) the reserved money: the order ships
	OpRefund  OperationKind = "refund"  // pay back (part of) what was taken
	OpCancel  OperationKind = "cancel"  // release what is reserved and not taken
	OpRelease OperationKind = "release" // release what a partly captured order will not capture
	OpExtend  OperationKind = "extend"  // extend the time the reservation can be captured in
)

// OperationState is where a back office operation stands.
type OperationState string

const (
	OpSent    OperationState = "sent"    // stored; the call may be under way
	OpDone    OperationState = "done"    // the provider did it
	OpRefused OperationState = "refused" // the provider said no, or has no record of it
	OpUnknown OperationState = "unknown" // no answer, and the provider could not be asked yet
	// OpUndetermined: settled, with no way to tell whether it was made
	// (the provider's figures look the same either way). Not in flight.
	OpUndetermined OperationState = "undetermined"
)

// InFlight reports whether the operation's outcome is not known yet.
func (s OperationState) InFlight() bool { return s == OpSent || s == OpUnknown }

// Operation is one back office operation on an order's payment.
type Operation struct {
	ID       int64
	OrderID  int64
	Kind     OperationKind
	Amount   int64 // minor units; a cancel's is what was left to release
	Currency string
	// Key is the Idempotency-Key, stored before the first call and sent on
	// every retry.
	Key   string
	State OperationState
	// Answer is the provider's answer in words, for the back office.
	Answer string
	// Before is the order's total of this kind (captured, refunded or
	// cancelled; released for a release) when the operation started; for
	// an extension, the authorization's expiry then (Unix seconds).
	Before int64
	// FormKey is the key of the page the operation was asked from: the
	// same form sent again is this operation (a retry); a new page makes
	// a new one.
	FormKey     string
	AdminID     int64
	SettleTries int // the sweep's failed tries at settling it (OperationSettleFailed)
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Made reports whether a provider total of the operation's kind shows it
// made: past what it was before by at least the operation's amount.
func (op Operation) Made(a Amounts) bool {
	switch op.Kind {
	case OpCapture:
		return a.Captured >= op.Before+op.Amount
	case OpRefund:
		return a.Refunded >= op.Before+op.Amount
	case OpCancel, OpRelease:
		return a.Cancelled > op.Before
	}
	return false // an extension shows in the expiry, which Amounts do not hold
}

// NewOperation is what StartOperation needs.
type NewOperation struct {
	OrderID  int64
	Kind     OperationKind
	Amount   int64
	Currency string
	AdminID  int64
	// Seen is the order's amounts the operation was decided on: it starts
	// only while the stored ones are still these.
	Seen Amounts
	// Expiry is the authorization's expiry when an extension starts.
	Expiry time.Time
	// FormKey is the key of the page the operation was asked from.
	FormKey string
	// KeyFor derives the Idempotency-Key of the order's n-th operation (n
	// from 1).
	KeyFor func(n int) string
}

// StartOperation stores an operation, state sent, with its Idempotency-Key,
// before anything is sent to the provider. ErrBusy when another operation
// on the order is in flight; ErrStale when the order's amounts changed
// since n.Seen (the decision was made on old figures).
func (s *Store) StartOperation(ctx context.Context, n NewOperation) (_ Operation, err error) {
	defer wrap(&err, "start operation")
	if n.OrderID == 0 || n.Currency == "" || n.KeyFor == nil || n.Amount < 0 {
		return Operation{}, errors.New("an operation needs its order, currency, key and an amount")
	}
	var before int64
	switch n.Kind {
	case OpCapture:
		before = n.Seen.Captured
	case OpRefund:
		before = n.Seen.Refunded
	case OpCancel, OpRelease:
		before = n.Seen.Cancelled
	case OpExtend:
		before = n.Expiry.Unix()
	default:
		return Operation{}, fmt.Errorf("no operation %q", n.Kind)
	}
	var op Operation
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var busy, count int
		if err := tx.QueryRowContext(ctx, `
			SELECT COALESCE(SUM(CASE WHEN state IN ('sent', 'unknown') THEN 1 ELSE 0 END), 0), COUNT(*)
			FROM order_operations WHERE order_id = ?`, n.OrderID).Scan(&busy, &count); err != nil {
			return err
		}
		if busy > 0 {
			return ErrBusy
		}
		now := s.now()
		var id int64
		err := tx.QueryRowContext(ctx, `
			INSERT INTO order_operations(order_id, kind, amount, currency, idempotency_key, state, before_amount, admin_id, form_key,
			                             next_try_at, created_at, updated_at)
			SELECT id, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? FROM orders
			WHERE id = ? AND captured_amount = ? AND refunded_amount = ? AND cancelled_amount = ?
			RETURNING id`,
			n.Kind, n.Amount, n.Currency, n.KeyFor(count+1), OpSent, before, nullInt(n.AdminID), n.FormKey, now, now, now,
			n.OrderID, n.Seen.Captured, n.Seen.Refunded, n.Seen.Cancelled).Scan(&id)
		if isUniqueViolation(err) {
			return ErrBusy // the index holds across processes
		}
		if errors.Is(err, sql.ErrNoRows) {
			return ErrStale
		}
		if err != nil {
			return err
		}
		op, err = scanOperation(tx.QueryRowContext(ctx, `SELECT `+operationColumns+` FROM order_operations WHERE id = ?`, id))
		return err
	})
	return op, err
}

// FinishOperation records what became of an operation in flight: done,
// refused, or unknown (no answer yet; it stays in flight). ErrStale when it
// was settled already (by another request, or the sweep).
func (s *Store) FinishOperation(ctx context.Context, id int64, state OperationState, answer string) (err error) {
	defer wrap(&err, "finish operation")
	return swapOne(ctx, s.db.Write, `
		UPDATE order_operations SET state = ?, answer = ?, updated_at = ?
		WHERE id = ? AND state IN ('sent', 'unknown')`, state, answer, s.now(), id)
}

// RenewOperation marks an operation in flight as being sent again now: the
// sweeps (OperationsToSettle, in any process) leave it alone for their
// wait from now on, so none concludes "not made" while a retry is making
// it. ErrStale when it is no longer in flight.
func (s *Store) RenewOperation(ctx context.Context, id int64) (err error) {
	defer wrap(&err, "renew operation")
	return swapOne(ctx, s.db.Write, `
		UPDATE order_operations SET updated_at = ? WHERE id = ? AND state IN ('sent', 'unknown')`, s.now(), id)
}

const operationColumns = `id, order_id, kind, amount, currency, idempotency_key, state, answer, before_amount,
	form_key, COALESCE(admin_id, 0), settle_tries, created_at, updated_at`

func scanOperation(row scanner) (Operation, error) {
	var op Operation
	var created, updated string
	err := row.Scan(&op.ID, &op.OrderID, &op.Kind, &op.Amount, &op.Currency, &op.Key, &op.State, &op.Answer,
		&op.Before, &op.FormKey, &op.AdminID, &op.SettleTries, &created, &updated)
	op.CreatedAt, op.UpdatedAt = parseTime(created), parseTime(updated)
	return op, noRows(err)
}

// OperationInFlight returns the order's operation in flight, or ErrNotFound.
func (s *Store) OperationInFlight(ctx context.Context, orderID int64) (_ Operation, err error) {
	defer wrap(&err, "operation in flight")
	return scanOperation(s.db.Read.QueryRowContext(ctx, `
		SELECT `+operationColumns+` FROM order_operations WHERE order_id = ? AND state IN ('sent', 'unknown')`, orderID))
}

// OperationByID returns one operation, or ErrNotFound.
func (s *Store) OperationByID(ctx context.Context, id int64) (_ Operation, err error) {
	defer wrap(&err, "operation by id")
	return scanOperation(s.db.Read.QueryRowContext(ctx, `SELECT `+operationColumns+` FROM order_operations WHERE id = ?`, id))
}

// OperationByForm returns the order's operation of kind asked from the
// page whose key is formKey, or ErrNotFound.
func (s *Store) OperationByForm(ctx context.Context, orderID int64, kind OperationKind, formKey string) (_ Operation, err error) {
	defer wrap(&err, "operation by form")
	if formKey == "" {
		return Operation{}, ErrNotFound
	}
	return scanOperation(s.db.Read.QueryRowContext(ctx, `
		SELECT `+operationColumns+` FROM order_operations WHERE order_id = ? AND kind = ? AND form_key = ?
		ORDER BY id DESC LIMIT 1`, orderID, kind, formKey))
}

// OperationsByOrder lists an order's operations, newest first.
func (s *Store) OperationsByOrder(ctx context.Context, orderID int64) (_ []Operation, err error) {
	defer wrap(&err, "operations by order")
	return list(ctx, s, scanOperation, `
		SELECT `+operationColumns+` FROM order_operations WHERE order_id = ? ORDER BY id DESC`, orderID)
}

// OperationsToSettle lists the operations in flight on orders paid through
// provider that nothing touched since before (left by a crash, or with no
// answer) and that are due (the sweep's wait after a failed try is over at
// now), the longest due first: one that keeps failing waits longer each
// time (OperationSettleFailed) and does not hold back the others.
func (s *Store) OperationsToSettle(ctx context.Context, provider Provider, before, now time.Time, limit int) (_ []Operation, err error) {
	defer wrap(&err, "operations to settle")
	return list(ctx, s, scanOperation, `
		SELECT `+operationColumns+` FROM order_operations
		WHERE state IN ('sent', 'unknown') AND updated_at <= ? AND next_try_at <= ?
		  AND order_id IN (SELECT id FROM orders WHERE provider = ?)
		ORDER BY next_try_at, id LIMIT ?`, stamp(before), stamp(now), provider, limit)
}

// OperationSettleFailed counts a failed try of the sweep at settling an
// operation in flight and makes it due again at next. It returns the tries
// so far.
func (s *Store) OperationSettleFailed(ctx context.Context, id int64, next time.Time) (tries int, err error) {
	defer wrap(&err, "operation settle failed")
	err = s.db.Write.QueryRowContext(ctx, `
		UPDATE order_operations SET settle_tries = settle_tries + 1, next_try_at = ?
		WHERE id = ? AND state IN ('sent', 'unknown') RETURNING settle_tries`, stamp(next), id).Scan(&tries)
	return tries, noRows(err)
}

// AdminOrder is an order as the back office lists it.
type AdminOrder struct {
	Order
	Email string // the customer's; "" for a guest
	Busy  bool   // an operation is in flight
}

// AllOrders lists every order, newest first, limit from offset, without
// lines, and how many there are in all.
func (s *Store) AllOrders(ctx context.Context, limit, offset int) (_ []AdminOrder, total int, err error) {
	defer wrap(&err, "all orders")
	if err := s.db.Read.QueryRowContext(ctx, `SELECT COUNT(*) FROM orders`).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := list(ctx, s, func(r scanner) (AdminOrder, error) {
		var ao AdminOrder
		var err error
		ao.Order, err = scanOrderWith(r, &ao.Email, &ao.Busy)
		return ao, err
	}, `
		SELECT `+orderColumns+`, COALESCE((SELECT email FROM users WHERE users.id = orders.user_id), ''),
		       EXISTS (SELECT 1 FROM order_operations op WHERE op.order_id = orders.id AND op.state IN ('sent', 'unknown'))
		FROM orders ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`, limit, offset)
	return rows, total, err
}

// OrderByID loads an order with its lines by its row id.
func (s *Store) OrderByID(ctx context.Context, id int64) (_ Order, err error) {
	defer wrap(&err, "order by id")
	return s.orderWithLines(ctx, `id = ?`, id)
}
