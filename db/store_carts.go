package db

import (
	"context"
	"database/sql"
	"errors"
)

// MaxQuantity is the most of one product a cart holds.
const MaxQuantity = 99

// CartItem is one product line in a cart.
type CartItem struct {
	ProductID string
	Quantity  int
}

// NewCart creates an empty guest cart.
func (s *Store) NewCart(ctx context.Context) (_ int64, err error) {
	defer wrap(&err, "new cart")
	var id int64
	err = s.db.Write.QueryRowContext(ctx, `INSERT INTO carts(updated_at) VALUES(?) RETURNING id`, s.now()).Scan(&id)
	return id, err
}

// CartExists reports whether the cart is still there (a reset database or an
// old cookie can name one that is gone).
func (s *Store) CartExists(ctx context.Context, cartID int64) (_ bool, err error) {
	defer wrap(&err, "cart exists")
	var one int
	err = s.db.Read.QueryRowContext(ctx, `SELECT 1 FROM carts WHERE id = ?`, cartID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// CartItems lists a cart's items in the order they were added.
func (s *Store) CartItems(ctx context.Context, cartID int64) (_ []CartItem, err error) {
	defer wrap(&err, "cart items")
	return list(ctx, s, func(r scanner) (CartItem, error) {
		var it CartItem
		err := r.Scan(&it.ProductID, &it.Quantity)
		return it, err
	}, `SELECT product_id, quantity FROM cart_items WHERE cart_id = ? ORDER BY added_at, rowid`, cartID)
}

// AddToCart adds quantity of a product, capping the line at MaxQuantity.
func (s *Store) AddToCart(ctx context.Context, cartID int64, productID string, quantity int) (err error) {
	defer wrap(&err, "add to cart")
	return s.tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO cart_items(cart_id, product_id, quantity, added_at) VALUES(?, ?, ?, ?)
			ON CONFLICT(cart_id, product_id) DO UPDATE SET quantity = `+s.db.least("cart_items.quantity + excluded.quantity", "?"),
			cartID, productID, min(quantity, MaxQuantity), now, MaxQuantity); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE carts SET updated_at = ? WHERE id = ?`, now, cartID)
		return err
	})
}

// SetCartQuantity sets a line's quantity; 0 removes it.
func (s *Store) SetCartQuantity(ctx context.Context, cartID int64, productID string, quantity int) (err error) {
	defer wrap(&err, "set cart quantity")
	return s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if quantity <= 0 {
			_, err = tx.ExecContext(ctx, `DELETE FROM cart_items WHERE cart_id = ? AND product_id = ?`, cartID, productID)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE cart_items SET quantity = ? WHERE cart_id = ? AND product_id = ?`,
				min(quantity, MaxQuantity), cartID, productID)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE carts SET updated_at = ? WHERE id = ?`, s.now(), cartID)
		return err
	})
}

// AdoptCart runs at sign-in: it returns the user's cart, merging the guest
// cart into it (quantities added, capped) or, when the user has none, giving
// the guest cart to the user. guestCartID 0 means the session had no cart.
func (s *Store) AdoptCart(ctx context.Context, userID, guestCartID int64) (cartID int64, err error) {
	defer wrap(&err, "adopt cart")
	err = s.tx(ctx, func(tx *sql.Tx) error {
		cartID = 0 // the transaction may run again (Store.tx)
		err := tx.QueryRowContext(ctx, `SELECT id FROM carts WHERE user_id = ?`, userID).Scan(&cartID)
		switch {
		case errors.Is(err, sql.ErrNoRows) && guestCartID != 0:
			adopted, err := changed(ctx, tx, `UPDATE carts SET user_id = ?, updated_at = ? WHERE id = ? AND user_id IS NULL`,
				userID, s.now(), guestCartID)
			if err != nil {
				return err
			}
			if adopted {
				cartID = guestCartID
				return nil
			}
			fallthrough // the guest cart is gone or not a guest's: start a fresh one
		case errors.Is(err, sql.ErrNoRows):
			return tx.QueryRowContext(ctx, `INSERT INTO carts(user_id, updated_at) VALUES(?, ?) RETURNING id`,
				userID, s.now()).Scan(&cartID)
		case err != nil:
			return err
		}
		if guestCartID == 0 || guestCartID == cartID {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO cart_items(cart_id, product_id, quantity, added_at)
			SELECT ?, product_id, quantity, added_at FROM cart_items g
			WHERE g.cart_id = ? AND EXISTS (SELECT 1 FROM carts WHERE id = g.cart_id AND user_id IS NULL)
			ON CONFLICT(cart_id, product_id) DO UPDATE SET quantity = `+s.db.least("cart_items.quantity + excluded.quantity", "?"),
			cartID, guestCartID, MaxQuantity); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM carts WHERE id = ? AND user_id IS NULL`, guestCartID)
		return err
	})
	return cartID, err
}
