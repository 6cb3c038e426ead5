package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/web/klarna"
	"refshop/web/klarna/link"
	"refshop/web/market"
	"refshop/web/money"
)

func buyAgainKeyPrefix(userID int64) string { return fmt.Sprintf("klarna-buy-again:%d:", userID) }

// attemptPattern is what rand.Text makes: 26 base32 characters.
var attemptPattern = regexp.MustCompile(`^[A-Z2-7]{26}$`)

// buyAgain is POST /orders/:id/klarna/buy-again: the same products at
// today's prices, ordered server to server with the stored customer token
// and a Klarna-Idempotency-Key derived from this attempt (a double submit
// finds the attempt it already made).
func (k *klarnaFlow) buyAgain(c echo.Context) error {
	ctx := c.Request().Context()
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
	o, err := k.buyAgainAttempt(ctx, u, src, key)
	if err != nil {
		return err
	}
	// Within the request's deadline: a double submit joins the first's work,
	// or finds its order.
	thanks, err := awaitProvider(k.a, c, klarnaOrderWork(o.ID), func(ctx context.Context) (string, error) {
		defer k.locks.Lock(o.ID)()
		o, err := k.a.Store.OrderByPublicID(ctx, o.PublicID)
		if err != nil || o.Status != db.StatusPending {
			return "", err // placed or closed already: its order page shows it
		}
		kp, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID)
		if err != nil || k.elsewhere(kp) {
			return "", err // made at another Klarna API: its order page says so
		}
		return k.orderBuyAgain(ctx, o, kp, "Thank you! Your order was placed with your linked Klarna account.")
	})
	switch {
	case errors.Is(err, errConfirming):
		// The order page says the order is being confirmed, and checks again.
	case err != nil:
		return buyAgainError(err)
	case thanks != "":
		k.a.flash(c, thanks)
	}
	return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
}

// orderBuyAgain places "Buy again" attempt o's order with its stored request
// and key and the linked account's customer token, and records Klarna's
// word: the order (thanks is the customer's thank-you), or a refusal, which
// closes the attempt (a dead token is forgotten). Any other error leaves the
// attempt open: Klarna may have placed the order, and its key makes a retry
// (the customer's or the sweep's) one order at most.
func (k *klarnaFlow) orderBuyAgain(ctx context.Context, o db.Order, kp db.KlarnaPayment, thanks string) (string, error) {
	att, err := k.links.Begin(ctx, o.UserID)
	if err != nil {
		return "", err
	}
	ko, err := k.sendBuyAgain(ctx, o, kp, att)
	if err == nil {
		return k.recordPlaced(ctx, o, ko, att, "Paid with your linked Klarna account.", thanks)
	}
	k.noteCorrelationID(ctx, o, err)
	if detail, refused := buyAgainRefusal(err); refused {
		if klarna.TokenGone(err) {
			_ = att.Forget(ctx)
		}
		_ = k.close(ctx, o, db.StatusFailed, detail)
	}
	return "", err
}

// buyAgainError is what a customer reads when Klarna did not place a "Buy
// again" order.
func buyAgainError(err error) error {
	detail, refused := buyAgainRefusal(err)
	switch {
	case errors.Is(err, link.ErrNotLinked):
		return &UserError{Status: http.StatusConflict, Title: "No Klarna account is linked",
			Message: "Pay with Klarna at checkout to link your Klarna account, then you can buy again in one step. Nothing was charged."}
	case klarna.TokenGone(err):
		return &UserError{Status: http.StatusConflict, Title: "Your Klarna link has ended", Reference: klarna.CorrelationID(err), Err: err,
			Message: "Klarna no longer accepts the linked account (it was cancelled or replaced), so the shop forgot it. " +
				"Pay with Klarna at checkout to link it again. Nothing was charged."}
	case refused:
		return klarnaError(err, "Klarna could not place the order", detail)
	}
	// No answer or a 5xx: Klarna may have placed it.
	return klarnaError(err, "Klarna did not confirm the order",
		"Please do not pay again: Klarna may have placed it. This order's page shows the result once Klarna confirms it, "+
			"and trying again there cannot place it twice.")
}

// sendBuyAgain places a "Buy again" attempt's order with its stored request
// and key and the linked account's customer token.
func (k *klarnaFlow) sendBuyAgain(ctx context.Context, o db.Order, kp db.KlarnaPayment, att *link.Attempt) (klarna.Order, error) {
	tok := att.Token()
	if tok.IsZero() {
		return klarna.Order{}, link.ErrNotLinked
	}
	sub := kp.KlarnaSubmission
	if !kp.Submitted() {
		var err error
		if sub, err = k.buyAgainSubmission(o); err != nil { // an attempt stored before requests were
			return klarna.Order{}, err
		}
	}
	var req klarna.TokenOrderRequest
	if err := json.Unmarshal([]byte(sub.Request), &req); err != nil {
		return klarna.Order{}, err
	}
	return k.client.CustomerTokenOrder(ctx, tok, req, sub.Key)
}

// buyAgainRefusal says whether Klarna said no to a "Buy again" (a 4xx, or
// no linked account), and why; refused is false when Klarna may still have
// placed it (no answer, a 5xx).
func buyAgainRefusal(err error) (detail string, refused bool) {
	s := klarna.StatusOf(err)
	switch {
	case errors.Is(err, link.ErrNotLinked):
		return "No Klarna account is linked. Nothing was charged.", true
	case klarna.TokenGone(err):
		return "Klarna no longer accepts the linked account. Nothing was charged.", true
	case s >= 400 && s < 500:
		return "Klarna refused the order. Nothing was charged.", true
	}
	return "", false
}

// settleBuyAgain is the sweep's retry of a "Buy again" attempt left open.
// One left open before the shop stored its requests is not sent: the
// customer may have been told then that nothing was charged, and a retry
// that Klarna does not replay would place the order now. It is left for a
// person.
func (k *klarnaFlow) settleBuyAgain(ctx context.Context, o db.Order, kp db.KlarnaPayment) (db.Order, error) {
	if !kp.Submitted() {
		k.a.Log.Error("klarna: a Buy again attempt from before the shop stored its requests is open; "+
			"find it in the Merchant Portal by merchant_reference1 and settle the order by hand", "order", o.PublicID)
		return o, k.a.Store.SetKlarnaSettleAfter(ctx, o.ID, time.Time{})
	}
	_, err := k.orderBuyAgain(ctx, o, kp, "")
	if _, refused := buyAgainRefusal(err); refused {
		return o, nil // closed
	}
	return o, err
}

// buyAgainSubmission is "Buy again" attempt o's order request and key.
func (k *klarnaFlow) buyAgainSubmission(o db.Order) (db.KlarnaSubmission, error) {
	lines, amount, tax := klarna.Lines(klarnaItems(o.Lines, o.SalesTax))
	body, err := json.Marshal(klarna.TokenOrderRequest{PurchaseCurrency: o.Currency, OrderAmount: amount, OrderTaxAmount: tax,
		OrderLines: lines, MerchantURLs: &klarna.TokenMerchantURL{Confirmation: k.orderURL(o)}, MerchantReference1: o.PublicID})
	return db.KlarnaSubmission{Key: klarna.IdempotencyKey(o.IdempotencyKey, "customer_token_order"), Request: string(body)}, err
}

// buyAgainAttempt returns the attempt named by key, making it (an order with
// src's products at today's prices) the first time.
func (k *klarnaFlow) buyAgainAttempt(ctx context.Context, u *db.User, src db.Order, key string) (db.Order, error) {
	if o, err := k.a.Store.OrderByIdempotencyKey(ctx, key); err == nil || !errors.Is(err, db.ErrNotFound) {
		return o, err
	}
	// Today's prices in the market the first order was placed in.
	m := market.OrDefault(src.Market)
	var lines []db.OrderLine
	var subtotal int64
	for _, l := range src.Lines {
		if line, ok := priceLine(m, l.ProductID, l.Quantity); ok {
			lines = append(lines, line)
			subtotal += line.TotalAmount
		}
	}
	if len(lines) == 0 {
		return db.Order{}, &UserError{Status: http.StatusConflict, Title: "Nothing to buy again",
			Message: "None of the products in that order is for sale any more."}
	}
	o, err := k.a.Store.CreateOrder(ctx, db.NewOrder{UserID: u.ID, Provider: db.ProviderKlarna, IdempotencyKey: key,
		Market: m.ID, Currency: m.Currency, Lines: lines, SalesTax: money.TaxAdded(subtotal, m.SalesTaxRate)})
	if err != nil {
		// A second submit of the same form won the race: use its attempt.
		if again, aerr := k.a.Store.OrderByIdempotencyKey(ctx, key); aerr == nil {
			return again, nil
		}
		return db.Order{}, err
	}
	// The request is stored with the attempt: every retry, the sweep's too,
	// sends it with the same key.
	sub, err := k.buyAgainSubmission(o)
	if err != nil {
		return db.Order{}, err
	}
	if err := k.a.Store.CreateKlarnaPayment(ctx, db.KlarnaPayment{OrderID: o.ID, Environment: k.env(), Kind: db.KlarnaCustomerToken,
		SourceOrder: src.PublicID, KlarnaSubmission: sub, SettleAfter: k.a.Clock.Now().Add(klarnaSettleAfter)}); err != nil {
		return db.Order{}, err
	}
	return o, nil
}
