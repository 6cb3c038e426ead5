package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/web/catalog"
	"refshop/web/klarna"
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
	if o.Status != db.StatusPending {
		return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	}
	att, err := k.links.Begin(ctx, u.ID)
	if err != nil {
		return err
	}
	tok := att.Token()
	if tok.IsZero() {
		_ = k.a.failOrder(ctx, o, "No Klarna account is linked.")
		return &UserError{Status: http.StatusConflict, Title: "No Klarna account is linked",
			Message: "Pay with Klarna at checkout to link your Klarna account, then you can buy again in one step. Nothing was charged."}
	}
	lines, amount, tax := klarna.Lines(klarnaItems(o.Lines))
	req := klarna.TokenOrderRequest{PurchaseCurrency: catalog.Currency, OrderAmount: amount, OrderTaxAmount: tax, OrderLines: lines,
		MerchantURLs: &klarna.TokenMerchantURL{Confirmation: k.orderURL(o)}, MerchantReference1: o.PublicID}
	ko, err := k.client.CustomerTokenOrder(ctx, tok, req, klarna.IdempotencyKey(key, "customer_token_order"))
	if err != nil {
		ref := klarna.CorrelationID(err)
		if ref != "" {
			_ = k.a.Store.SetKlarnaCorrelationID(ctx, o.ID, ref)
		}
		if klarna.TokenGone(err) {
			_ = att.Forget(ctx)
			_ = k.a.failOrder(ctx, o, "Klarna no longer accepts the linked account.")
			return &UserError{Status: http.StatusConflict, Title: "Your Klarna link has ended", Reference: ref, Err: err,
				Message: "Klarna no longer accepts the linked account (it was cancelled or replaced), so the shop forgot it. " +
					"Pay with Klarna at checkout to link it again. Nothing was charged."}
		}
		if s := klarna.StatusOf(err); s >= 400 && s < 500 {
			// Klarna answered no: this attempt is over. (No answer or a 5xx
			// leaves it open, to retry with the same key.)
			_ = k.a.failOrder(ctx, o, "Klarna refused the order.")
		}
		return klarnaError(err, "Klarna could not place the order", "Nothing was charged.")
	}
	if err := k.a.Store.SetProviderReference(ctx, o.ID, ko.OrderID); err != nil && !errors.Is(err, db.ErrStale) {
		return err
	}
	detail, thanks := klarnaPlaced(ko, "Paid with your linked Klarna account.", "Thank you! Your order was placed with your linked Klarna account.")
	if err := k.a.Store.SetOrderStatusPaid(ctx, o.ID, db.StatusPending, db.StatusAuthorized, detail); err != nil && !errors.Is(err, db.ErrStale) {
		return err
	}
	k.saveToken(c, u.ID, att, ko.CustomerToken) // present when Klarna rotated it
	k.a.flash(c, thanks)
	return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
}

// buyAgainAttempt returns the attempt named by key, making it (an order with
// src's products at today's prices) the first time.
func (k *klarnaFlow) buyAgainAttempt(ctx context.Context, u *db.User, src db.Order, key string) (db.Order, error) {
	if o, err := k.a.Store.OrderByIdempotencyKey(ctx, key); err == nil || !errors.Is(err, db.ErrNotFound) {
		return o, err
	}
	var lines []db.OrderLine
	for _, l := range src.Lines {
		if line, ok := priceLine(l.ProductID, l.Quantity); ok {
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return db.Order{}, &UserError{Status: http.StatusConflict, Title: "Nothing to buy again",
			Message: "None of the products in that order is for sale any more."}
	}
	o, err := k.a.Store.CreateOrder(ctx, db.NewOrder{UserID: u.ID, Provider: db.ProviderKlarna, IdempotencyKey: key,
		Currency: catalog.Currency, Lines: lines})
	if err != nil {
		// A second submit of the same form won the race: use its attempt.
		if again, aerr := k.a.Store.OrderByIdempotencyKey(ctx, key); aerr == nil {
			return again, nil
		}
		return db.Order{}, err
	}
	if err := k.a.Store.CreateKlarnaPayment(ctx, db.KlarnaPayment{OrderID: o.ID, Kind: db.KlarnaCustomerToken,
		SourceOrder: src.PublicID}); err != nil {
		return db.Order{}, err
	}
	return o, nil
}
