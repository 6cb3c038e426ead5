package db

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// The ids of Alternative Payments (https://docs.alternativepayments.io)
// belong to one environment, its API base URL: every row names it, and the
// shop reads only the rows of the environment it is configured with.

// AltpayPayer is whom an invoice is addressed to: a user, or a guest session
// with the email and name typed at checkout, in one environment.
type AltpayPayer struct {
	Environment string
	UserID      int64
	GuestID     string
	Email       string
	Name        string
}

// AltpayCustomer links a payer to its Alternative Payments customer.
type AltpayCustomer struct {
	ExternalID string // ours, sent as external_id
	CustomerID string // the provider's; "" until the provider created it
}

// ReserveAltpayCustomer returns the payer's row, creating it with a fresh
// external id when there is none: a user has one per environment, a guest
// one per environment, email and name (the API cannot change a customer's
// email or name). Two concurrent calls get the same row. The caller creates
// the provider customer when CustomerID is "".
func (s *Store) ReserveAltpayCustomer(ctx context.Context, p AltpayPayer) (_ AltpayCustomer, err error) {
	defer wrap(&err, "reserve altpay customer")
	if (p.UserID == 0) == (p.GuestID == "") {
		return AltpayCustomer{}, errors.New("an altpay customer belongs to a user or to a guest session")
	}
	now := s.now()
	_, err = s.db.Write.ExecContext(ctx, `
		INSERT INTO altpay_customers(environment, user_id, guest_id, email, name, external_id, created_at, updated_at)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		p.Environment, nullInt(p.UserID), nullString(p.GuestID), p.Email, p.Name, newExternalID(), now, now)
	if err != nil {
		return AltpayCustomer{}, err
	}
	return s.altpayCustomer(ctx, p)
}

// AltpayCustomerFor returns the payer's row; ErrNotFound when there is none.
func (s *Store) AltpayCustomerFor(ctx context.Context, p AltpayPayer) (_ AltpayCustomer, err error) {
	defer wrap(&err, "altpay customer for")
	return s.altpayCustomer(ctx, p)
}

func (s *Store) altpayCustomer(ctx context.Context, p AltpayPayer) (AltpayCustomer, error) {
	var c AltpayCustomer
	q, args := `SELECT external_id, COALESCE(customer_id, '') FROM altpay_customers WHERE environment = ? AND user_id = ?`,
		[]any{p.Environment, p.UserID}
	if p.UserID == 0 {
		q, args = `SELECT external_id, COALESCE(customer_id, '') FROM altpay_customers
			WHERE environment = ? AND guest_id = ? AND email = ? AND name = ?`, []any{p.Environment, p.GuestID, p.Email, p.Name}
	}
	// Read from the writer: this follows a write in the same request.
	err := s.db.Write.QueryRowContext(ctx, q, args...).Scan(&c.ExternalID, &c.CustomerID)
	return c, noRows(err)
}

// SetAltpayCustomerID records the provider's customer id for externalID,
// once: ErrStale when another id is already recorded.
func (s *Store) SetAltpayCustomerID(ctx context.Context, externalID, customerID string) (err error) {
	defer wrap(&err, "set altpay customer id")
	return swapOne(ctx, s.db.Write, `
		UPDATE altpay_customers SET customer_id = ?, updated_at = ?
		WHERE external_id = ? AND (customer_id IS NULL OR customer_id = ?)`, customerID, s.now(), externalID, customerID)
}

// ForgetAltpayCustomer drops a customer the provider no longer has (its data
// was reset): the row gets a new external id and no customer, so the next
// ReserveAltpayCustomer makes the customer again. A row that no longer holds
// customerID is left alone (another request forgot it first).
func (s *Store) ForgetAltpayCustomer(ctx context.Context, externalID, customerID string) (err error) {
	defer wrap(&err, "forget altpay customer")
	_, err = s.db.Write.ExecContext(ctx, `
		UPDATE altpay_customers SET customer_id = NULL, external_id = ?, updated_at = ?
		WHERE external_id = ? AND customer_id = ?`, newExternalID(), s.now(), externalID, customerID)
	return err
}

// newExternalID is random, so two shop databases sharing one provider
// account never collide.
func newExternalID() string { return "refshop-" + randomID() }

// AltpayInvoice is an order's provider invoice: what the shop asks for,
// recorded before it asks, and what the provider answered.
type AltpayInvoice struct {
	OrderID        int64
	Environment    string
	CustomerID     string
	IdempotencyKey string    // the attempt's request key, named in logs (the API documents no Idempotency-Key for invoices)
	Reference      string    // the shop's own reference, sent in the memo and looked for after an unknown outcome
	DueDate        string    // 2006-01-02, so every try sends the same body
	CreatedAt      time.Time // when the request was recorded
	CreateSentAt   time.Time // when a create was last sent (zero: never): the invoice may exist (MarkAltpayInvoiceSent)
	InvoiceID      string    // the provider's; "" until an answer is recorded
	Status         string    // the provider's, when last checked
	CheckedAt      time.Time
	SettleAfter    time.Time // past this, a missing invoice is asked for again
	SettleTries    int       // the background's failed tries
}

// ReserveAltpayInvoice records what the order's invoice will be asked with,
// before the provider is asked; when the order has one already, it returns
// that one unchanged.
func (s *Store) ReserveAltpayInvoice(ctx context.Context, inv AltpayInvoice) (_ AltpayInvoice, err error) {
	defer wrap(&err, "reserve altpay invoice")
	if inv.OrderID == 0 || inv.CustomerID == "" || inv.IdempotencyKey == "" || inv.DueDate == "" {
		return AltpayInvoice{}, errors.New("an invoice needs its order, customer, key and due date")
	}
	if _, err := s.db.Write.ExecContext(ctx, `
		INSERT INTO altpay_invoices(order_id, environment, customer_id, idempotency_key, reference, due_date, settle_after, created_at)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(order_id) DO NOTHING`,
		inv.OrderID, inv.Environment, inv.CustomerID, inv.IdempotencyKey, inv.Reference, inv.DueDate, stamp(inv.SettleAfter), s.now()); err != nil {
		return AltpayInvoice{}, err
	}
	return s.altpayInvoice(ctx, inv.OrderID)
}

// SetAltpayInvoiceCustomer addresses a not yet recorded invoice to another
// customer, with the key for that request: ErrStale once an invoice is
// recorded.
func (s *Store) SetAltpayInvoiceCustomer(ctx context.Context, orderID int64, customerID, key string) (err error) {
	defer wrap(&err, "set altpay invoice customer")
	return swapOne(ctx, s.db.Write, `
		UPDATE altpay_invoices SET customer_id = ?, idempotency_key = ? WHERE order_id = ? AND invoice_id IS NULL`,
		customerID, key, orderID)
}

// ErrAltpayInvoiceTaken: the provider's invoice is recorded for another
// order already.
var ErrAltpayInvoiceTaken = errors.New("the invoice belongs to another order")

// SaveAltpayInvoice records the provider's invoice for the order and sets
// the order's provider_reference to its id, in one transaction. Saving the
// same invoice again is a no-op; another invoice for the order, or an order
// with no reserved invoice, is ErrStale; an invoice another order recorded
// (invoice_id is unique) is ErrAltpayInvoiceTaken.
func (s *Store) SaveAltpayInvoice(ctx context.Context, orderID int64, invoiceID, status string) (err error) {
	defer wrap(&err, "save altpay invoice")
	return s.tx(ctx, func(tx *sql.Tx) error {
		err := swapOne(ctx, tx, `
			UPDATE altpay_invoices SET invoice_id = ?, status = ?, checked_at = ?
			WHERE order_id = ? AND (invoice_id IS NULL OR invoice_id = ?)`,
			invoiceID, status, s.now(), orderID, invoiceID)
		if isUniqueViolation(err) {
			return ErrAltpayInvoiceTaken
		}
		if err != nil {
			return err
		}
		return s.setProviderReference(ctx, tx, orderID, invoiceID)
	})
}

// AltpayInvoiceFor returns the order's invoice; ErrNotFound when it has none.
func (s *Store) AltpayInvoiceFor(ctx context.Context, orderID int64) (_ AltpayInvoice, err error) {
	defer wrap(&err, "altpay invoice for")
	return s.altpayInvoice(ctx, orderID)
}

func (s *Store) altpayInvoice(ctx context.Context, orderID int64) (AltpayInvoice, error) {
	inv := AltpayInvoice{OrderID: orderID}
	var checked, settle, created, sent string
	err := s.db.Write.QueryRowContext(ctx, `
		SELECT environment, customer_id, idempotency_key, reference, due_date, COALESCE(invoice_id, ''), status,
		       COALESCE(checked_at, ''), settle_after, settle_tries, created_at, COALESCE(create_sent_at, '')
		FROM altpay_invoices WHERE order_id = ?`, orderID).
		Scan(&inv.Environment, &inv.CustomerID, &inv.IdempotencyKey, &inv.Reference, &inv.DueDate, &inv.InvoiceID, &inv.Status,
			&checked, &settle, &inv.SettleTries, &created, &sent)
	inv.CheckedAt, inv.SettleAfter, inv.CreatedAt, inv.CreateSentAt = parseTime(checked), parseTime(settle), parseTime(created), parseTime(sent)
	return inv, noRows(err)
}

// MarkAltpayInvoiceSent records, before a create is sent, that the order's
// invoice may exist from at on: every later try looks for it first, and
// creates again only once nothing has been found for a while after at. at is
// the caller's (the provider's clock: the wait is on the provider's time).
// It does nothing once an invoice is recorded.
func (s *Store) MarkAltpayInvoiceSent(ctx context.Context, orderID int64, at time.Time) (err error) {
	defer wrap(&err, "mark altpay invoice sent")
	_, err = s.db.Write.ExecContext(ctx, `
		UPDATE altpay_invoices SET create_sent_at = ? WHERE order_id = ? AND invoice_id IS NULL`, stamp(at), orderID)
	return err
}

// UnmarkAltpayInvoiceSent forgets the create sent at at, which the provider
// refused (it made nothing): the order's invoice surely does not exist, and
// the next create is a first one again. A row marked by another send since
// is left alone.
func (s *Store) UnmarkAltpayInvoiceSent(ctx context.Context, orderID int64, at time.Time) (err error) {
	defer wrap(&err, "unmark altpay invoice sent")
	_, err = s.db.Write.ExecContext(ctx, `
		UPDATE altpay_invoices SET create_sent_at = NULL WHERE order_id = ? AND invoice_id IS NULL AND create_sent_at = ?`,
		orderID, stamp(at))
	return err
}

// AltpayInvoiceOrder returns the order that recorded the provider's invoice
// invoiceID in environment; ErrNotFound when none did.
func (s *Store) AltpayInvoiceOrder(ctx context.Context, environment, invoiceID string) (_ int64, err error) {
	defer wrap(&err, "altpay invoice order")
	var id int64
	err = s.db.Write.QueryRowContext(ctx, `
		SELECT order_id FROM altpay_invoices WHERE environment = ? AND invoice_id = ?`, environment, invoiceID).Scan(&id)
	return id, noRows(err)
}

// SetAltpayInvoiceStatus records the invoice status the provider reported.
func (s *Store) SetAltpayInvoiceStatus(ctx context.Context, orderID int64, status string) (err error) {
	defer wrap(&err, "set altpay invoice status")
	_, err = s.db.Write.ExecContext(ctx, `
		UPDATE altpay_invoices SET status = ?, checked_at = ? WHERE order_id = ?`, status, s.now(), orderID)
	return err
}

// SetAltpayInvoiceSettleAfter moves when a missing invoice is asked for
// again: now, once the request that asked first has given up.
func (s *Store) SetAltpayInvoiceSettleAfter(ctx context.Context, orderID int64, after time.Time) (err error) {
	defer wrap(&err, "set altpay invoice settle after")
	_, err = s.db.Write.ExecContext(ctx, `
		UPDATE altpay_invoices SET settle_after = ? WHERE order_id = ? AND invoice_id IS NULL`, stamp(after), orderID)
	return err
}

// AltpayInvoiceSettleFailed counts one failed background try for the order's
// missing invoice and moves its next try to next. It returns the failed
// tries so far.
func (s *Store) AltpayInvoiceSettleFailed(ctx context.Context, orderID int64, next time.Time) (tries int, err error) {
	defer wrap(&err, "altpay invoice settle failed")
	return s.settleFailed(ctx, "altpay_invoices", orderID, next)
}

// settleFailed counts one failed background try on the order's row of table
// (with settle_tries and settle_after columns) and moves its next try to next.
func (s *Store) settleFailed(ctx context.Context, table string, orderID int64, next time.Time) (tries int, err error) {
	err = s.db.Write.QueryRowContext(ctx, `
		UPDATE `+table+` SET settle_tries = settle_tries + 1, settle_after = ?
		WHERE order_id = ? RETURNING settle_tries`, stamp(next), orderID).Scan(&tries)
	return tries, noRows(err)
}

// AltpayInvoicesToSettle lists the public ids of pending orders of
// environment whose invoice was asked for and never recorded, past their
// settle time and with fewer than maxTries failed tries, oldest first.
func (s *Store) AltpayInvoicesToSettle(ctx context.Context, environment string, now time.Time, maxTries, limit int) (_ []string, err error) {
	defer wrap(&err, "altpay invoices to settle")
	return list(ctx, s, scanString, `
		SELECT o.public_id FROM altpay_invoices i JOIN orders o ON o.id = i.order_id
		WHERE i.invoice_id IS NULL AND o.status = ? AND i.environment = ? AND i.settle_after <= ? AND i.settle_tries < ?
		ORDER BY i.settle_after LIMIT ?`, StatusPending, environment, stamp(now), maxTries, limit)
}

// UnpaidAltpayOrders lists the user's pay-by-invoice orders that still await
// payment and have an invoice of environment to pay, newest first.
func (s *Store) UnpaidAltpayOrders(ctx context.Context, userID int64, environment string) (_ []Order, err error) {
	defer wrap(&err, "unpaid altpay orders")
	return list(ctx, s, scanOrder, `
		SELECT `+orderColumns+` FROM orders
		WHERE user_id = ? AND provider = ? AND status = ?
		  AND id IN (SELECT order_id FROM altpay_invoices
		             WHERE invoice_id IS NOT NULL AND environment = ? AND status <> 'PAID')
		ORDER BY created_at DESC, id DESC`, userID, ProviderAltpay, StatusPending, environment)
}
