package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Status is where an order is in its life.
type Status string

const (
	StatusPending    Status = "pending"    // created; the customer has not paid yet
	StatusAuthorized Status = "authorized" // the provider reserved the money
	StatusCaptured   Status = "captured"   // the money was taken
	StatusFailed     Status = "failed"     // the provider refused or errored
	StatusCancelled  Status = "cancelled"  // the customer or the shop called it off
)

// Provider names the payment provider, and so the flow, an order is paid
// through. The values are what orders.provider stores.
type Provider string

const (
	ProviderVipps  Provider = "vipps"  // Vipps MobilePay ePayment
	ProviderKlarna Provider = "klarna" // Klarna payments, with or without a linked account
	ProviderAltpay Provider = "altpay" // an Alternative Payments invoice
)

// transitions are the allowed status changes.
var transitions = map[Status][]Status{
	StatusPending:    {StatusAuthorized, StatusCaptured, StatusFailed, StatusCancelled},
	StatusAuthorized: {StatusCaptured, StatusCancelled, StatusFailed},
}

// CanMove reports whether an order may go from one status to another.
func CanMove(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Order is one payment attempt for a cart's contents.
type Order struct {
	ID                int64
	PublicID          string
	UserID            int64  // 0 for a guest order
	GuestID           string // "" for a user's order
	CartID            int64  // the cart it was placed from; 0 once that cart is gone
	Status            Status
	Provider          Provider
	ProviderReference string
	IdempotencyKey    string
	Market            string // where it was placed (package web/market)
	Currency          string
	TotalAmount       int64 // what the customer pays: the lines plus SalesTax
	TaxAmount         int64 // the lines' VAT, or SalesTax
	SalesTax          int64 // sales tax added to the lines (prices without tax); 0 where prices include VAT
	StatusDetail      string
	ItemCount         int // items, counting quantities
	// Amounts is the money as the provider last reported it (zero
	// ReportedAt: never; the status is all the shop knows).
	Amounts   Amounts
	CreatedAt time.Time
	UpdatedAt time.Time
	Lines     []OrderLine
}

// OwnedBy reports whether the signed-in user (or, for guests, the guest
// session) may see the order.
func (o Order) OwnedBy(userID int64, guestID string) bool {
	if o.UserID != 0 {
		return o.UserID == userID
	}
	return guestID != "" && o.GuestID == guestID
}

// OrderLine is a product line, a snapshot of the cart at order time.
type OrderLine struct {
	ProductID      string
	Name           string
	Quantity       int
	UnitPrice      int64
	TaxRate        int
	TotalAmount    int64
	TotalTaxAmount int64
}

// NewOrder is what CreateOrder needs.
type NewOrder struct {
	UserID         int64
	GuestID        string
	CartID         int64
	Provider       Provider
	IdempotencyKey string // derive it from the attempt; CreateOrder makes one when empty
	Market         string
	Currency       string
	Lines          []OrderLine
	SalesTax       int64 // added to the lines' total; lines then carry no tax
}

// CreateOrder stores a pending order and its lines in one transaction.
func (s *Store) CreateOrder(ctx context.Context, n NewOrder) (_ Order, err error) {
	defer wrap(&err, "create order")
	o, err := newOrderRow(n)
	if err != nil {
		return Order{}, err
	}
	if err := s.tx(ctx, func(tx *sql.Tx) error { return s.insertOrder(ctx, tx, &o) }); err != nil {
		return Order{}, err
	}
	return o, nil
}

// newOrderRow checks n and makes the order it describes, not yet stored.
func newOrderRow(n NewOrder) (Order, error) {
	if len(n.Lines) == 0 {
		return Order{}, errors.New("an order needs at least one line")
	}
	if (n.UserID == 0) == (n.GuestID == "") {
		return Order{}, errors.New("an order belongs to a user or to a guest session")
	}
	if n.Market == "" || n.Currency == "" {
		return Order{}, errors.New("an order needs its market and currency")
	}
	if n.SalesTax < 0 {
		return Order{}, errors.New("sales tax cannot be negative")
	}
	o := Order{
		PublicID: randomID(), UserID: n.UserID, GuestID: n.GuestID, CartID: n.CartID,
		Status: StatusPending, Provider: n.Provider, IdempotencyKey: n.IdempotencyKey,
		Market: n.Market, Currency: n.Currency, Lines: n.Lines, SalesTax: n.SalesTax,
	}
	if o.IdempotencyKey == "" {
		o.IdempotencyKey = "order-" + o.PublicID
	}
	for _, l := range n.Lines {
		o.ItemCount += l.Quantity
		o.TotalAmount += l.TotalAmount
		o.TaxAmount += l.TotalTaxAmount
	}
	if n.SalesTax > 0 {
		if o.TaxAmount != 0 {
			return Order{}, errors.New("an order adds sales tax or includes VAT in its lines, not both")
		}
		o.TotalAmount += n.SalesTax
		o.TaxAmount = n.SalesTax
	}
	return o, nil
}

// insertOrder stores o and its lines in tx, setting its id and times.
func (s *Store) insertOrder(ctx context.Context, tx *sql.Tx, o *Order) error {
	now := s.now()
	err := tx.QueryRowContext(ctx, `
		INSERT INTO orders(public_id, user_id, guest_id, cart_id, provider, idempotency_key, market, currency,
		                   total_amount, tax_amount, sales_tax, created_at, updated_at)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		o.PublicID, nullInt(o.UserID), nullString(o.GuestID), nullInt(o.CartID), o.Provider,
		o.IdempotencyKey, o.Market, o.Currency, o.TotalAmount, o.TaxAmount, o.SalesTax, now, now).Scan(&o.ID)
	if err != nil {
		return err
	}
	for i, l := range o.Lines {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO order_lines(order_id, line_no, product_id, name, quantity, unit_price, tax_rate,
			                        total_amount, total_tax_amount)
			VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			o.ID, i+1, l.ProductID, l.Name, l.Quantity, l.UnitPrice, l.TaxRate, l.TotalAmount, l.TotalTaxAmount); err != nil {
			return err
		}
	}
	o.CreatedAt, o.UpdatedAt = parseTime(now), parseTime(now)
	return nil
}

const orderColumns = `id, public_id, COALESCE(user_id, 0), COALESCE(guest_id, ''), COALESCE(cart_id, 0), status,
	provider, COALESCE(provider_reference, ''), idempotency_key, market, currency, total_amount, tax_amount,
	sales_tax, status_detail, created_at, updated_at,
	(SELECT COALESCE(SUM(quantity), 0) FROM order_lines WHERE order_id = orders.id),
	authorized_amount, captured_amount, refunded_amount, cancelled_amount, COALESCE(amounts_at, '')`

func scanOrder(row scanner) (Order, error) { return scanOrderWith(row) }

// scanOrderWith scans orderColumns and then extra columns into extra.
func scanOrderWith(row scanner, extra ...any) (Order, error) {
	var o Order
	var created, updated, reported string
	am := &o.Amounts
	err := row.Scan(append([]any{&o.ID, &o.PublicID, &o.UserID, &o.GuestID, &o.CartID, &o.Status, &o.Provider,
		&o.ProviderReference, &o.IdempotencyKey, &o.Market, &o.Currency, &o.TotalAmount, &o.TaxAmount,
		&o.SalesTax, &o.StatusDetail, &created, &updated, &o.ItemCount,
		&am.Authorized, &am.Captured, &am.Refunded, &am.Cancelled, &reported}, extra...)...)
	o.CreatedAt, o.UpdatedAt, am.ReportedAt = parseTime(created), parseTime(updated), parseTime(reported)
	return o, noRows(err)
}

// OrderByPublicID loads an order with its lines. Callers check OwnedBy.
func (s *Store) OrderByPublicID(ctx context.Context, publicID string) (_ Order, err error) {
	defer wrap(&err, "order by public id")
	return s.orderWithLines(ctx, `public_id = ?`, publicID)
}

// OrderByIdempotencyKey finds the order of a payment attempt, with its lines,
// so a repeated submit finds the attempt it already made.
func (s *Store) OrderByIdempotencyKey(ctx context.Context, key string) (_ Order, err error) {
	defer wrap(&err, "order by idempotency key")
	return s.orderWithLines(ctx, `idempotency_key = ?`, key)
}

// orderWithLines loads the one order where holds (a condition on a unique
// column) and its lines.
func (s *Store) orderWithLines(ctx context.Context, where string, args ...any) (Order, error) {
	o, err := scanOrder(s.db.Read.QueryRowContext(ctx, `SELECT `+orderColumns+` FROM orders WHERE `+where, args...))
	if err != nil {
		return Order{}, err
	}
	if o.Lines, err = orderLines(ctx, s.db.Read, o.ID); err != nil {
		return Order{}, err
	}
	return o, nil
}

// orderLines reads an order's lines on q, in order.
func orderLines(ctx context.Context, q querier, orderID int64) ([]OrderLine, error) {
	return listOn(ctx, q, func(r scanner) (OrderLine, error) {
		var l OrderLine
		err := r.Scan(&l.ProductID, &l.Name, &l.Quantity, &l.UnitPrice, &l.TaxRate, &l.TotalAmount, &l.TotalTaxAmount)
		return l, err
	}, `
		SELECT product_id, name, quantity, unit_price, tax_rate, total_amount, total_tax_amount
		FROM order_lines WHERE order_id = ? ORDER BY line_no`, orderID)
}

// OrdersByUser lists a user's orders, newest first, without lines.
func (s *Store) OrdersByUser(ctx context.Context, userID int64) (_ []Order, err error) {
	defer wrap(&err, "orders by user")
	return list(ctx, s, scanOrder, `SELECT `+orderColumns+` FROM orders WHERE user_id = ? ORDER BY created_at DESC, id DESC`, userID)
}

// SetOrderStatus moves an order to status `to` as a compare-and-swap on its
// current status: ErrStale when another request moved it first, an error when
// the move is not allowed. detail is a customer-safe note ("" keeps the old one).
func (s *Store) SetOrderStatus(ctx context.Context, orderID int64, from, to Status, detail string) (err error) {
	defer wrap(&err, "set order status")
	if !CanMove(from, to) {
		return fmt.Errorf("an order cannot go from %s to %s", from, to)
	}
	return s.swapStatus(ctx, s.db.Write, orderID, from, to, detail)
}

// swapStatus is the compare-and-swap behind both status setters.
func (s *Store) swapStatus(ctx context.Context, ex execer, orderID int64, from, to Status, detail string) error {
	return swapOne(ctx, ex, `
		UPDATE orders SET status = ?, status_detail = CASE WHEN ? = '' THEN status_detail ELSE ? END, updated_at = ?
		WHERE id = ? AND status = ?`, to, detail, detail, s.now(), orderID, from)
}

// SetOrderStatusPaid is SetOrderStatus for the move that means "paid for"
// (authorized or captured, as the flow decides): in the same transaction it
// takes what the order bought out of the cart it was placed from, and closes
// every other open attempt of that cart (DetailClosedPaid, marked for
// release: see AttemptsToRelease), so nothing else of it can be paid; one
// that cannot be closed (closable) stays open for its sweep, which records
// what the provider made of it. Items
// added to the cart since stay. Only the request that wins the swap touches
// the cart, so two racing requests never take the items out twice.
func (s *Store) SetOrderStatusPaid(ctx context.Context, orderID int64, from, to Status, detail string) (err error) {
	defer wrap(&err, "set order status paid")
	if to != StatusAuthorized && to != StatusCaptured {
		return fmt.Errorf("%s is not a paid status", to)
	}
	if !CanMove(from, to) {
		return fmt.Errorf("an order cannot go from %s to %s", from, to)
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.swapStatus(ctx, tx, orderID, from, to, detail); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE orders SET status = ?, status_detail = ?, release_due = 1, updated_at = ?
			WHERE cart_id = (SELECT cart_id FROM orders WHERE id = ?) AND id <> ? AND status = ? AND `+closable,
			StatusCancelled, DetailClosedPaid, s.now(), orderID, orderID, StatusPending); err != nil {
			return err
		}
		// Lines the order bought all of (or more than the cart still holds) go;
		// the rest are reduced by the ordered quantity.
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM cart_items WHERE cart_id = (SELECT cart_id FROM orders WHERE id = ?)
			AND quantity <= (SELECT ol.quantity FROM order_lines ol WHERE ol.order_id = ? AND ol.product_id = cart_items.product_id)`,
			orderID, orderID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
			UPDATE cart_items SET quantity = cart_items.quantity - ol.quantity
			FROM order_lines ol
			WHERE ol.order_id = ? AND cart_items.product_id = ol.product_id
			AND cart_items.cart_id = (SELECT cart_id FROM orders WHERE id = ?)`, orderID, orderID)
		return err
	})
}

// SetProviderReference records the provider's id for the order, once:
// ErrStale when another id is already recorded.
func (s *Store) SetProviderReference(ctx context.Context, orderID int64, ref string) (err error) {
	defer wrap(&err, "set provider reference")
	return s.setProviderReference(ctx, s.db.Write, orderID, ref)
}

func (s *Store) setProviderReference(ctx context.Context, ex execer, orderID int64, ref string) error {
	return swapOne(ctx, ex, `
		UPDATE orders SET provider_reference = ?, updated_at = ?
		WHERE id = ? AND (provider_reference IS NULL OR provider_reference = ?)`, ref, s.now(), orderID, ref)
}

// randomID is an unguessable id for URLs (26 base32 characters, 130 bits).
func randomID() string { return strings.ToLower(rand.Text()) }
