package web

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/catalog"
	"refshop/web/keyedmutex"
	"refshop/web/klarna"
	"refshop/web/klarna/link"
	"refshop/web/secret"
)

// klarnaFlow is Klarna Payments with account linking:
//
//   - the checkout choice "Klarna" makes a payment attempt (a pending order)
//     and its Klarna session (intent buy_and_link for a signed-in customer,
//     carrying the stored customer_token; buy for a guest);
//   - the payment page loads Klarna's SDK, which shows the widget, and posts
//     the authorization token back; the shop places the order server to
//     server, stores or replaces the customer_token from the answer, and
//     takes the order's items out of the cart;
//   - a 409 (the cart changed since approval) or 404 (the authorization is
//     older than 60 minutes) makes a new attempt on the refreshed session and
//     asks the customer to approve again;
//   - the order request is stored before it is sent, and any outcome but the
//     order is checked against the session (klarna_settle.go); what stays
//     unknown is settled by the sweep (klarna_sweep.go);
//   - the account page shows the link (masked) and unlinks it;
//   - "Buy again" repeats a past Klarna order with the customer token, no
//     widget.
type klarnaFlow struct {
	a      *App
	client *klarna.Client
	links  *link.Keeper
	locks  keyedmutex.Map[int64] // by order id: one submit or settle of an attempt at a time
}

// The shop sells in Germany in euros (catalog.Currency).
const (
	klarnaCountry = "DE"
	klarnaLocale  = "en-DE"
	// klarnaSessionTTL is Klarna's session lifetime; the payment page starts
	// over a little before it ends rather than show a widget that will fail.
	klarnaSessionTTL = 48*time.Hour - 5*time.Minute
)

func newKlarnaFlow(a *App) *klarnaFlow {
	c := a.Klarna
	return &klarnaFlow{a: a, client: c, links: link.New(link.Config{Client: c, Store: a.Store, Box: a.Box, Log: a.Log})}
}

// klarnaItems are an order's lines as Klarna order-line input.
func klarnaItems(lines []db.OrderLine) []klarna.Item {
	items := make([]klarna.Item, 0, len(lines))
	for _, l := range lines {
		items = append(items, klarna.Item{Reference: l.ProductID, Name: l.Name, Quantity: int64(l.Quantity),
			UnitPrice: l.UnitPrice, TaxRate: l.TaxRate})
	}
	return items
}

func (k *klarnaFlow) orderURL(o db.Order) string {
	return k.a.Config.ShopBaseURL + "/orders/" + o.PublicID
}

// purchase is what attempt o's session and order carry, with lines (the
// attempt's, or the cart's as it is when the order is placed).
func (k *klarnaFlow) purchase(o db.Order, lines []db.OrderLine) klarna.Purchase {
	ols, amount, tax := klarna.Lines(klarnaItems(lines))
	return klarna.Purchase{PurchaseCountry: klarnaCountry, PurchaseCurrency: catalog.Currency, Locale: klarnaLocale,
		OrderAmount: amount, OrderTaxAmount: tax, OrderLines: ols,
		MerchantURLs: &klarna.MerchantURLs{Confirmation: k.orderURL(o)}, MerchantReference1: o.PublicID}
}

func (k *klarnaFlow) sessionRequest(o db.Order, intent string, tok secret.Secret) klarna.SessionRequest {
	req := klarna.SessionRequest{AcquiringChannel: "ECOMMERCE", Intent: intent, Purchase: k.purchase(o, o.Lines)}
	if !tok.IsZero() {
		req.Customer = &klarna.Customer{CustomerToken: tok}
	}
	return req
}

// klarnaLinkForgotten tells a customer whose linked account Klarna no
// longer knows how to link it again.
const klarnaLinkForgotten = "Klarna no longer knows the Klarna account you linked, so the shop forgot it. " +
	"Log in at Klarna and keep \"Link my Klarna account\" checked to link it again."

// klarnaError is the customer's view of a failed Klarna call, with msg
// saying what it means for their money; the support reference is Klarna's
// correlation id (the error page falls back to the request id).
func klarnaError(err error, title, msg string) error {
	status := http.StatusBadGateway
	if klarna.Unanswered(err) {
		status = http.StatusServiceUnavailable
		msg += " Klarna is not answering right now; please try again in a moment."
	}
	return &UserError{Status: status, Title: title, Message: msg, Reference: klarna.CorrelationID(err), Err: err}
}

func (k *klarnaFlow) checkoutMethod(c echo.Context, _ pricedCart) (templ.Component, error) {
	v := views.KlarnaMethodView{Guest: currentUser(c) == nil}
	if u := currentUser(c); u != nil {
		st, err := k.links.Status(c.Request().Context(), u.ID)
		if err != nil {
			return nil, err
		}
		v.Linked = st.Linked
	}
	return views.KlarnaMethod(v), nil
}

// start is POST /checkout/klarna: a new payment attempt for the cart and its
// Klarna session.
func (k *klarnaFlow) start(c echo.Context) error {
	o, reused, err := k.a.placeOrder(c, db.ProviderKlarna)
	if err == nil && reused {
		if done, err := k.resume(c, o); done {
			return err
		}
		o, _, err = k.a.placeOrder(c, db.ProviderKlarna)
	}
	if err != nil {
		return err
	}
	return k.openSession(c, o, nil, "")
}

// openSession gives the attempt o a Klarna session, by updating the previous
// attempt's session (prev) when there is one still open, else by creating
// one, and sends the customer to the payment page.
func (k *klarnaFlow) openSession(c echo.Context, o db.Order, prev *db.KlarnaPayment, notice string) error {
	ctx := c.Request().Context()
	intent, tok := klarna.IntentBuy, secret.Secret{} // guests pay; nothing is linked
	if o.UserID != 0 {
		intent = klarna.IntentBuyAndLink
		att, err := k.links.Begin(ctx, o.UserID)
		if err != nil {
			return err
		}
		// A token Klarna no longer knows is dropped, not sent: the page
		// would say the customer is recognised, and Klarna would not.
		linked := !att.Token().IsZero()
		known, err := att.Known(ctx)
		switch {
		case err != nil:
			k.a.Log.Warn("klarna: cannot check the linked customer token; sending it", "request_id", requestID(c),
				"user_id", o.UserID, "correlation_id", klarna.CorrelationID(err))
		case linked && !known:
			notice = strings.TrimSpace(notice + " " + klarnaLinkForgotten)
		}
		tok = att.Token()
	}
	req := k.sessionRequest(o, intent, tok)
	// Unsubmitted, the attempt is the sweep's once its session has ended.
	kp := db.KlarnaPayment{OrderID: o.ID, Kind: db.KlarnaWidget, Intent: intent, SentToken: !tok.IsZero(),
		SettleAfter: k.a.Clock.Now().Add(klarnaSessionTTL)}
	if o.UserID != 0 {
		// Sign in with Klarna (web/klarnasignin*.go): a fresh access token
		// as customer.klarna_access_token skips the widget's login.
		var n string
		if kp.SentAccessToken, n = k.a.klarnaSignIn.addAccessToken(c, o.UserID, &req); n != "" {
			notice = strings.TrimSpace(notice + " " + n)
		}
	}
	if prev != nil && prev.SessionID != "" {
		err := k.client.UpdateSession(ctx, prev.SessionID, req, klarna.IdempotencyKey(o.IdempotencyKey, "update_session"))
		switch {
		case err == nil:
			kp.SessionID, kp.ClientToken = prev.SessionID, prev.ClientToken
		case klarna.StatusOf(err) == http.StatusNotFound:
			// Expired or completed: a new session below.
		default:
			return k.failAttempt(c, o, err)
		}
	}
	if kp.SessionID == "" {
		s, err := k.client.CreateSession(ctx, req, klarna.IdempotencyKey(o.IdempotencyKey, "create_session"))
		if err != nil {
			return k.failAttempt(c, o, err)
		}
		kp.SessionID, kp.ClientToken = s.SessionID, s.ClientToken
	}
	if err := k.a.Store.CreateKlarnaPayment(ctx, kp); err != nil {
		_ = k.a.failOrder(ctx, o, "The shop could not record the Klarna session.")
		return err
	}
	if notice != "" {
		k.a.flash(c, notice)
	}
	return c.Redirect(http.StatusSeeOther, "/checkout/klarna/"+o.PublicID)
}

// failAttempt closes an attempt Klarna would not start.
func (k *klarnaFlow) failAttempt(c echo.Context, o db.Order, err error) error {
	ctx := c.Request().Context()
	detail := "Klarna could not start the payment."
	if ref := klarna.CorrelationID(err); ref != "" {
		detail += " Support reference " + ref + "."
	}
	if serr := k.a.failOrder(ctx, o, detail); serr != nil {
		return serr
	}
	return klarnaError(err, "Klarna could not start the payment",
		"Nothing was charged and your cart is unchanged. You can try again, or choose another payment method.")
}

// klarnaAttempt loads a pending Klarna widget attempt the customer may see;
// done is false when the handler already answered (a redirect).
func (k *klarnaFlow) klarnaAttempt(c echo.Context) (o db.Order, kp db.KlarnaPayment, done bool, err error) {
	o, err = k.a.loadOrder(c, c.Param("id"))
	if err != nil {
		return o, kp, true, err
	}
	if o.Provider != db.ProviderKlarna || o.Status != db.StatusPending {
		return o, kp, true, c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	}
	kp, err = k.a.Store.KlarnaPaymentByOrder(c.Request().Context(), o.ID)
	if errors.Is(err, db.ErrNotFound) || (err == nil && kp.Kind != db.KlarnaWidget) {
		return o, kp, true, c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	}
	return o, kp, err != nil, err
}

// payPage is GET /checkout/klarna/:id: Klarna's widget for the attempt.
func (k *klarnaFlow) payPage(c echo.Context) error {
	o, kp, done, err := k.klarnaAttempt(c)
	if done {
		return err
	}
	if kp.Submitted() {
		// Its order is being confirmed: no second approval.
		return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	}
	if k.a.Clock.Now().After(kp.CreatedAt.Add(klarnaSessionTTL)) {
		_ = k.a.Store.SetOrderStatus(c.Request().Context(), o.ID, db.StatusPending, db.StatusCancelled, "The Klarna session expired.")
		k.a.flash(c, "Your Klarna session expired. Choose Klarna again to pay.")
		return c.Redirect(http.StatusSeeOther, "/checkout")
	}
	v := views.KlarnaPayView{
		OrderID: o.PublicID, Total: eur(o.TotalAmount), Tax: eur(o.TaxAmount), ClientToken: kp.ClientToken,
		SDKURL: k.a.Config.Klarna.SDKURL, AuthorizeURL: "/checkout/klarna/" + o.PublicID + "/authorize",
		Recognised: kp.SentToken, SignedInWithKlarna: kp.SentAccessToken, Linking: kp.Intent == klarna.IntentBuyAndLink,
	}
	v.Lines = orderLineViews(o.Lines)
	return render(c, http.StatusOK, views.KlarnaPay(k.a.chrome(c, "Pay with Klarna"), v))
}

// authorized is POST /checkout/klarna/:id/authorize with the authorization
// token from Klarna.Payments.authorize: the shop places the order with the
// cart as it is now, so a cart changed since approval is Klarna's 409. The
// request is stored before it is sent, so a repeated submit, the sweep and a
// restarted shop all send the same one with the same key.
func (k *klarnaFlow) authorized(c echo.Context) error {
	o, _, done, err := k.klarnaAttempt(c)
	if done {
		return err
	}
	authToken := strings.TrimSpace(c.FormValue("authorization_token"))
	if authToken == "" || len(authToken) > 255 {
		return &UserError{Status: http.StatusBadRequest, Title: "Klarna did not approve",
			Message: "The page did not receive Klarna's approval. Go back and choose \"Buy with Klarna\" again."}
	}
	// One submit of an attempt at a time in this process: a second one
	// waits, then finds what the first did (the order's page once paid).
	defer k.locks.Lock(o.ID)()
	o, kp, done, err := k.klarnaAttempt(c)
	if done {
		return err
	}
	// The work goes on if the browser leaves; each Klarna call has its own
	// budget.
	ctx := context.WithoutCancel(c.Request().Context())
	var sub klarnaSubmission
	if kp.Submitted() {
		// Submitted before and still open: the same request again.
		sub, err = k.stored(o, kp)
	} else {
		sub, err = k.submitCart(c, o, authToken)
		if errors.Is(err, db.ErrStale) {
			// Another shop process submitted it meanwhile: send its request.
			if kp, err = k.a.Store.KlarnaPaymentByOrder(ctx, o.ID); err == nil {
				sub, err = k.stored(o, kp)
			}
		}
	}
	if err != nil {
		return err
	}
	att, err := k.linkAttempt(ctx, o, kp)
	if err != nil {
		return err
	}
	res := k.send(ctx, kp, sub)
	switch res.outcome {
	case klarnaOrderPlaced:
		thanks, err := k.recordPlaced(ctx, o, res.order, att, "Klarna approved the payment.", "Thank you! Klarna approved your payment.")
		if err != nil {
			return err
		}
		k.a.flash(c, thanks)
	case klarnaOrderUnseen:
		if err := k.recordUnseen(ctx, o, kp, res, requestID(c)); err != nil {
			return err
		}
		k.a.flash(c, "Thank you! Klarna approved your payment.")
	case klarnaOrderReapprove:
		return k.reapprove(c, o, kp, sub.auth, res.err)
	case klarnaOrderRefused:
		k.noteCorrelationID(ctx, o, res.err)
		// Klarna holds nothing of this request: the customer may approve
		// again, and the sweep has nothing to ask until the session ends.
		if err := k.a.Store.WithdrawKlarnaOrder(ctx, o.ID, sub.key, kp.CreatedAt.Add(klarnaSessionTTL)); err != nil && !errors.Is(err, db.ErrStale) {
			return err
		}
		return klarnaError(res.err, "Klarna could not place the order",
			"Nothing was charged and your cart is unchanged. Go back to the Klarna page and try again, or choose another payment method.")
	default:
		k.noteCorrelationID(ctx, o, res.err)
		k.a.Log.Warn("klarna: the order's outcome is unknown; the customer is told it is being confirmed",
			"request_id", requestID(c), "order", o.PublicID, "session_id", kp.SessionID,
			"correlation_id", klarna.CorrelationID(res.err), "error", res.err)
		k.a.flash(c, views.KlarnaConfirmingNotice)
	}
	return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
}

// submitCart stores attempt o's order request for the cart as it is now and
// the customer's authorization. An empty cart (emptied in another tab)
// closes the attempt.
func (k *klarnaFlow) submitCart(c echo.Context, o db.Order, authToken string) (klarnaSubmission, error) {
	ctx := c.Request().Context()
	pc, err := k.a.priceCart(c)
	if err != nil {
		return klarnaSubmission{}, err
	}
	if len(pc.Lines) == 0 {
		k.cancelAuthorization(ctx, authToken)
		_ = k.a.Store.SetOrderStatus(ctx, o.ID, db.StatusPending, db.StatusCancelled, "The cart was emptied before the order was placed.")
		return klarnaSubmission{}, errEmptyCart
	}
	sub, err := k.newSubmission(o, pc.Lines, authToken)
	if err != nil {
		return sub, err
	}
	return sub, k.submit(ctx, o, sub)
}

// noteCorrelationID keeps a Klarna error's correlation id on the attempt:
// the order page shows it as the support reference.
func (k *klarnaFlow) noteCorrelationID(ctx context.Context, o db.Order, err error) {
	if ref := klarna.CorrelationID(err); ref != "" {
		_ = k.a.Store.SetKlarnaCorrelationID(ctx, o.ID, ref)
	}
}

// klarnaPlaced is the order's detail and the thank-you for a placed order:
// accepted's when Klarna accepted it, and a note that Klarna is reviewing it
// when fraud_status is PENDING. Such an order stays authorized (Klarna holds
// the money) and must not ship until Klarna accepts it; Klarna tells the
// merchant later (the Order Management API or a notification, which this
// shop does not take).
func klarnaPlaced(ko klarna.Order, detail, thanks string) (string, string) {
	if ko.FraudStatus == klarna.FraudPending {
		return "Klarna is reviewing this order. The payment is authorized; the order ships once Klarna accepts it.",
			"Thank you! Klarna is reviewing this order; we ship it once Klarna accepts it."
	}
	return detail, thanks
}

// reapprove handles Klarna's 409 (the cart changed since approval) and 404
// (the authorization expired): this attempt is closed, a new one is made
// for the cart as it is, the session is refreshed with it, and the customer
// approves again.
func (k *klarnaFlow) reapprove(c echo.Context, o db.Order, kp db.KlarnaPayment, authToken string, cause error) error {
	ctx := c.Request().Context()
	k.a.Log.Info("klarna asks for a new approval", "request_id", requestID(c), "order", o.PublicID,
		"status", klarna.StatusOf(cause), "correlation_id", klarna.CorrelationID(cause))
	notice := "Your Klarna approval expired. Please approve the payment again."
	if klarna.CartChanged(cause) {
		notice = "Your cart changed after you approved the payment. Please approve the new total with Klarna."
		k.cancelAuthorization(ctx, authToken) // it still holds for the old cart
	}
	if err := k.a.Store.SetOrderStatus(ctx, o.ID, db.StatusPending, db.StatusCancelled, "Replaced: Klarna asked for a new approval."); err != nil && !errors.Is(err, db.ErrStale) {
		return err
	}
	next, _, err := k.a.placeOrder(c, db.ProviderKlarna)
	if err != nil {
		return err
	}
	return k.openSession(c, next, &kp, notice)
}
