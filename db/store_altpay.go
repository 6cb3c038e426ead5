package db

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// AltpayCustomer links a shop user (or guest session) to its Alternative
// Payments customer (https://docs.alternativepayments.io).
type AltpayCustomer struct {
	ExternalID string // ours, sent as external_id
	CustomerID string // the provider's; "" until the provider created it
}

// ReserveAltpayCustomer returns the user's (or guest's) row, creating it with
// a fresh external id when there is none. Two concurrent calls get the same
// row. The caller creates the provider customer when CustomerID is "".
func (s *Store) ReserveAltpayCustomer(ctx context.Context, userID int64, guestID string) (_ AltpayCustomer, err error) {
	defer wrap(&err, "reserve altpay customer")
	if (userID == 0) == (guestID == "") {
		return AltpayCustomer{}, errors.New("an altpay customer belongs to a user or to a guest session")
	}
	now := s.now()
	_, err = s.db.Write.ExecContext(ctx, `
		INSERT INTO altpay_customers(user_id, guest_id, external_id, created_at, updated_at)
		VALUES(?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		nullInt(userID), nullString(guestID), "refshop-"+randomID(), now, now)
	if err != nil {
		return AltpayCustomer{}, err
	}
	return s.altpayCustomer(ctx, userID, guestID)
}

// AltpayCustomerFor returns the user's (or guest's) row; ErrNotFound when
// there is none.
func (s *Store) AltpayCustomerFor(ctx context.Context, userID int64, guestID string) (_ AltpayCustomer, err error) {
	defer wrap(&err, "altpay customer for")
	return s.altpayCustomer(ctx, userID, guestID)
}

func (s *Store) altpayCustomer(ctx context.Context, userID int64, guestID string) (AltpayCustomer, error) {
	var c AltpayCustomer
	q, arg := `SELECT external_id, COALESCE(customer_id, '') FROM altpay_customers WHERE user_id = ?`, any(userID)
	if userID == 0 {
		q, arg = `SELECT external_id, COALESCE(customer_id, '') FROM altpay_customers WHERE guest_id = ?`, guestID
	}
	// Read from the writer: this follows a write in the same request.
	err := s.db.Write.QueryRowContext(ctx, q, arg).Scan(&c.ExternalID, &c.CustomerID)
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

// AltpayInvoice is an order's provider invoice.
type AltpayInvoice struct {
	OrderID    int64
	CustomerID string
	InvoiceID  string
	Status     string // the provider's, when last checked
	CheckedAt  time.Time
}

// SaveAltpayInvoice records the order's invoice and sets the order's
// provider_reference to the invoice id, in one transaction. Saving the same
// invoice again is a no-op; another invoice for the order is ErrStale.
func (s *Store) SaveAltpayInvoice(ctx context.Context, inv AltpayInvoice) (err error) {
	defer wrap(&err, "save altpay invoice")
	now := s.now()
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO altpay_invoices(order_id, customer_id, invoice_id, status, checked_at, created_at)
			VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(order_id) DO NOTHING`,
			inv.OrderID, inv.CustomerID, inv.InvoiceID, inv.Status, now, now); err != nil {
			return err
		}
		var stored string
		if err := tx.QueryRowContext(ctx, `SELECT invoice_id FROM altpay_invoices WHERE order_id = ?`, inv.OrderID).Scan(&stored); err != nil {
			return err
		}
		if stored != inv.InvoiceID {
			return ErrStale
		}
		return s.setProviderReference(ctx, tx, inv.OrderID, inv.InvoiceID)
	})
}

// AltpayInvoiceFor returns the order's invoice; ErrNotFound when it has none.
func (s *Store) AltpayInvoiceFor(ctx context.Context, orderID int64) (_ AltpayInvoice, err error) {
	defer wrap(&err, "altpay invoice for")
	inv := AltpayInvoice{OrderID: orderID}
	var checked string
	err = s.db.Write.QueryRowContext(ctx, `
		SELECT customer_id, invoice_id, status, checked_at FROM altpay_invoices WHERE order_id = ?`, orderID).
		Scan(&inv.CustomerID, &inv.InvoiceID, &inv.Status, &checked)
	inv.CheckedAt = parseTime(checked)
	return inv, noRows(err)
}

// SetAltpayInvoiceStatus records the invoice status the provider reported.
func (s *Store) SetAltpayInvoiceStatus(ctx context.Context, orderID int64, status string) (err error) {
	defer wrap(&err, "set altpay invoice status")
	_, err = s.db.Write.ExecContext(ctx, `
		UPDATE altpay_invoices SET status = ?, checked_at = ? WHERE order_id = ?`, status, s.now(), orderID)
	return err
}

// UnpaidAltpayOrders lists the user's pay-by-invoice orders that still await
// payment and have an invoice to pay, newest first.
func (s *Store) UnpaidAltpayOrders(ctx context.Context, userID int64) (_ []Order, err error) {
	defer wrap(&err, "unpaid altpay orders")
	return list(ctx, s, scanOrder, `
		SELECT `+orderColumns+` FROM orders
		WHERE user_id = ? AND provider = ? AND status = ?
		  AND id IN (SELECT order_id FROM altpay_invoices WHERE status <> 'PAID')
		ORDER BY created_at DESC, id DESC`, userID, ProviderAltpay, StatusPending)
}
