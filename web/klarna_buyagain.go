package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/web/market"
)

// "Buy again" is a customer-present one-click purchase, the way Klarna's
// account-linking guide describes the returning linked customer: a new
// attempt whose session (intent buy_and_link) carries the linked
// customer_token, so Klarna's widget opens ready to buy for that customer
// and one click approves; the shop then places the order from the
// authorization as for any widget payment. Klarna documents no endpoint that
// charges the account-linking customer_token server to server (the Customer
// Token API's order call takes a token_id, minted with intent tokenize or
// buy_and_tokenize and the customer's consent to be charged later), so the
// shop makes no such charge
// (https://docs.klarna.com/payments/web-payments/additional-resources/use-cases/account-linking).

func buyAgainKeyPrefix(userID int64) string { return fmt.Sprintf("klarna-buy-again:%d:", userID) }

// attemptPattern is what rand.Text makes: 26 base32 characters.
var attemptPattern = regexp.MustCompile(`^[A-Z2-7]{26}$`)

// buyAgain is POST /orders/:id/klarna/buy-again: the same products at
// today's prices, in the market the order was placed in, as a new attempt
// with its Klarna session; the customer goes on to its payment page. The
// form's attempt names the attempt, so a double submit finds the one it
// already made.
func (k *klarnaFlow) buyAgain(c echo.Context) error {
	u := currentUser(c)
	src, err := k.a.loadOrder(c, c.Param("id"))
	if err != nil {
		return err
	}
	if src.Provider != db.ProviderKlarna || src.UserID != u.ID || (src.Status != db.StatusAuthorized && src.Status != db.StatusCaptured) {
		return &UserError{Status: http.StatusConflict, Title: "This order cannot be bought again",
			Message: "Only your paid Klarna orders can be bought again with Klarna."}
	}
	attempt := c.FormValue("attempt")
	if !attemptPattern.MatchString(attempt) {
		return &UserError{Status: http.StatusBadRequest, Title: "Please try again",
			Message: "The form was incomplete. Reload the order page and choose \"Buy again with Klarna\" again."}
	}
	key := buyAgainKeyPrefix(u.ID) + attempt
	if shown, err := k.openBuyAgain(c, u, src, key); shown || err != nil {
		return err
	}
	return k.repeat(c, u, src, key, nil, "")
}

// openBuyAgain keeps one "Buy again" attempt of a user open at a time, as a
// cart has one attempt per method: a form rendered again (a reload, another
// tab) names a new attempt, yet an open one may already hold the
// customer's approval. One that was submitted to Klarna (its outcome may
// still be unknown) is shown, never joined by a second purchase; an
// unsubmitted one for the same products is continued; any other is closed
// (an authorization it may hold lapses at Klarna after 60 minutes) and the
// new one made. shown says the answer was sent.
func (k *klarnaFlow) openBuyAgain(c echo.Context, u *db.User, src db.Order, key string) (shown bool, err error) {
	ctx := c.Request().Context()
	open, err := k.a.Store.OpenAttemptsByKey(ctx, u.ID, db.ProviderKlarna, buyAgainKeyPrefix(u.ID))
	if err != nil {
		return false, err
	}
	m := market.OrDefault(src.Market)
	for _, o := range open {
		if o.IdempotencyKey == key {
			continue // this form's own attempt: repeat shows it
		}
		kp, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID)
		switch {
		case err != nil && !errors.Is(err, db.ErrNotFound):
			return false, err
		case err == nil && kp.Submitted():
			k.a.flash(c, "Your earlier \"Buy again\" is still with Klarna: this page shows how it stands.")
			return true, c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
		case err == nil && o.Market == m.ID && db.SameLines(o.Lines, todaysLines(m, src)):
			return true, c.Redirect(http.StatusSeeOther, "/checkout/klarna/"+o.PublicID)
		}
		switch err := k.a.Store.CloseAttempt(ctx, o.ID, db.StatusCancelled, db.DetailReplaced); {
		case errors.Is(err, db.ErrStale):
			// Submitted (or settled) since it was read: show it.
			return true, c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
		case err != nil:
			return false, err
		}
	}
	return false, nil
}

// todaysLines are src's products at today's prices in market m; products no
// longer for sale there are left out.
func todaysLines(m market.Market, src db.Order) []db.OrderLine {
	var lines []db.OrderLine
	for _, l := range src.Lines {
		if line, ok := priceLine(m, l.ProductID, l.Quantity); ok {
			lines = append(lines, line)
		}
	}
	return lines
}

// buyAgainFrom makes the next "Buy again" attempt of the earlier order
// srcID after Klarna asked for a new approval of the attempt prev, whose
// session it refreshes.
func (k *klarnaFlow) buyAgainFrom(c echo.Context, srcID string, prev *db.KlarnaPayment, notice string) error {
	u := currentUser(c)
	src, err := k.a.Store.OrderByPublicID(c.Request().Context(), srcID)
	if err != nil {
		return err
	}
	if u == nil || src.UserID != u.ID {
		return echo.ErrNotFound
	}
	// One next attempt per replaced attempt: a repeated submit of the
	// stale approval finds it.
	return k.repeat(c, u, src, fmt.Sprintf("%sreapproved:%d", buyAgainKeyPrefix(u.ID), prev.OrderID), prev, notice)
}

// repeat opens attempt key (making it the first time) for src's products
// and sends the customer to its payment page, or, when it was paid or
// closed meanwhile, to its order page.
func (k *klarnaFlow) repeat(c echo.Context, u *db.User, src db.Order, key string, prev *db.KlarnaPayment, notice string) error {
	ctx := c.Request().Context()
	o, err := k.buyAgainAttempt(ctx, u, src, key)
	if err != nil {
		return err
	}
	if o.Status != db.StatusPending {
		return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	}
	switch kp, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID); {
	case err == nil && kp.Kind == db.KlarnaWidget && !k.elsewhere(o, kp) && !kp.Submitted():
		return c.Redirect(http.StatusSeeOther, "/checkout/klarna/"+o.PublicID) // a double submit
	case err == nil:
		return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	case !errors.Is(err, db.ErrNotFound):
		return err
	}
	return k.openSession(c, o, prev, src.PublicID, notice)
}

// buyAgainAttempt returns the attempt named by key, making it (an order with
// src's products at today's prices, in src's market, outside any cart) the
// first time.
func (k *klarnaFlow) buyAgainAttempt(ctx context.Context, u *db.User, src db.Order, key string) (db.Order, error) {
	if o, err := k.a.Store.OrderByIdempotencyKey(ctx, key); err == nil || !errors.Is(err, db.ErrNotFound) {
		return o, err
	}
	m := market.OrDefault(src.Market)
	lines := todaysLines(m, src)
	if len(lines) == 0 {
		return db.Order{}, &UserError{Status: http.StatusConflict, Title: "Nothing to buy again",
			Message: "None of the products in that order is for sale any more."}
	}
	_, tax := salesTax(m, lines)
	o, err := k.a.Store.CreateOrder(ctx, db.NewOrder{UserID: u.ID, Provider: db.ProviderKlarna, IdempotencyKey: key,
		Market: m.ID, Currency: m.Currency, Lines: lines, SalesTax: tax})
	if err != nil {
		// A second submit of the same form won the race: use its attempt.
		if again, aerr := k.a.Store.OrderByIdempotencyKey(ctx, key); aerr == nil {
			return again, nil
		}
		return db.Order{}, err
	}
	return o, nil
}

// settleLegacyBuyAgain is the sweep's word on a "Buy again" attempt an
// earlier version of the shop sent server to server with the account-linking
// token (db.KlarnaCustomerToken). Klarna documents no such call, so the shop
// neither repeats it nor guesses its outcome: an ERROR line asks a person to
// look the order up in the Merchant Portal by merchant_reference1, and the
// sweep stops asking.
func (k *klarnaFlow) settleLegacyBuyAgain(ctx context.Context, o db.Order) (db.Order, error) {
	k.a.Log.Error("klarna: a Buy again attempt sent server to server with the account-linking token is open; "+
		"find it in the Merchant Portal by merchant_reference1 and settle the order by hand", "order", o.PublicID)
	return o, k.a.Store.SetKlarnaSettleAfter(ctx, o.ID, time.Time{})
}
