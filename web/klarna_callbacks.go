package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/web/config"
	"refshop/web/inbound"
	"refshop/web/klarna"
)

// Klarna's server-to-server calls to the shop:
//
//   - the authorization callback (merchant_urls.authorization on the
//     session): "Klarna payments calls this URL after a successful
//     authorization" with {"authorization_token", "session_id"}, so the
//     order is placed even when the customer's browser never comes back
//     (https://docs.klarna.com/payments/web-payments/integrate-with-klarna-payments/other-actions/authorization-callback);
//   - the pending-order notification (merchant_urls.notification on the
//     order): when Klarna's fraud review of a PENDING order ends, Klarna
//     POSTs {"order_id", "event_type": FRAUD_RISK_ACCEPTED |
//     FRAUD_RISK_REJECTED | FRAUD_RISK_STOPPED}, every 10 minutes for 24
//     hours until it gets a 200
//     (https://docs.klarna.com/payments/after-payments/order-management/more-actions/pending-orders).
//
// Klarna signs neither. Its advice for the authorization callback is "a
// one-time token only for this specific payment session" in the URL: each
// attempt gets a random token (rand.Text), sealed in its klarna_payments
// row (web/secret) and compared in constant time; both URLs carry it. The
// routes are therefore exempt from the shop's cross-origin check
// (server.go): they are authenticated by the token, and Klarna's servers
// send no Origin a browser would.
//
// Neither body is believed on its own: the authorization token can only
// place the order the attempt's session holds (Klarna refuses any other),
// and a notification only makes the shop ask Order Management for the
// order's fraud_status, which is what it acts on.

// klarnaCallbackPrefix is where Klarna's calls to the shop go (routes.go).
const klarnaCallbackPrefix = "/callbacks/klarna/"

// Callback kinds: the last path segment before the order id.
const (
	klarnaAuthorizationCallback = "authorization"
	klarnaNotificationCallback  = "notification"
)

const (
	// klarnaCallbackDeadline bounds a callback's provider work: Klarna
	// documents no timeout for either call, and an answer that waits on a
	// slow create order helps nobody (the work goes on, and the stored
	// request lets the sweep finish it).
	klarnaCallbackDeadline = 5 * time.Second
	// klarnaFraudRecheckAfter is how long the order page of an order under
	// review shows what the shop knows before it asks Order Management
	// again: reviews take hours, and reloads must not spend Klarna's rate
	// limits. The notification is the main way the shop learns.
	klarnaFraudRecheckAfter = time.Minute
)

func callbackAAD(orderID int64) string { return fmt.Sprintf("order:%d:klarna_callback_token", orderID) }

// newCallbackToken makes attempt orderID's one-time token and its sealed
// form, which is what the attempt's row keeps.
func (k *klarnaFlow) newCallbackToken(orderID int64) (token, sealed string, err error) {
	token = rand.Text()
	sealed, err = k.a.Box.Seal(token, callbackAAD(orderID))
	return token, sealed, err
}

// takesCallbacks reports whether the shop gives Klarna its callback URLs:
// always for the sandbox, and for a real Klarna API only on an https base
// URL ("You must provide the callback URL over HTTPS"; a shop run locally
// is out of Klarna's reach anyway). Without them the order page's recheck
// is how a review's end is learned.
func (k *klarnaFlow) takesCallbacks() bool {
	return k.a.Config.Klarna.Mode == config.Sandbox || strings.HasPrefix(k.a.Config.ShopBaseURL, "https://")
}

// callbackURL is where Klarna sends the callback kind for attempt o.
func (k *klarnaFlow) callbackURL(kind string, o db.Order, token string) string {
	return k.a.Config.ShopBaseURL + klarnaCallbackPrefix + kind + "/" + url.PathEscape(o.PublicID) + "?token=" + url.QueryEscape(token)
}

// addNotificationURL adds the attempt's notification URL to an order
// request at send time: the stored request keeps no token, and every try
// adds the same URL, so the request stays the same under its key.
// Attempts from before the shop kept tokens get none.
func (k *klarnaFlow) addNotificationURL(o db.Order, kp db.KlarnaPayment, req *klarna.OrderRequest) error {
	if kp.CallbackToken == "" {
		return nil
	}
	tok, err := k.a.Box.Open(kp.CallbackToken, callbackAAD(o.ID))
	if err != nil {
		return err
	}
	if req.MerchantURLs == nil {
		req.MerchantURLs = &klarna.MerchantURLs{}
	}
	req.MerchantURLs.Notification = k.callbackURL(klarnaNotificationCallback, o, tok.Reveal())
	return nil
}

var (
	// errNoSuchCallbackOrder: the callback names no Klarna attempt of this
	// shop.
	errNoSuchCallbackOrder = errors.New("no Klarna attempt by that id")
	// errCallbackToken: the callback's token is not its attempt's.
	errCallbackToken = errors.New("the token is not this order's")
)

// callbackAttempt is the order and Klarna attempt a callback's path names,
// once its token is the attempt's (errCallbackToken when it is not: the
// caller answers 401, and nothing changes).
func (k *klarnaFlow) callbackAttempt(c echo.Context) (db.Order, db.KlarnaPayment, error) {
	ctx := c.Request().Context()
	o, err := k.a.Store.OrderByPublicID(ctx, c.Param("order"))
	if errors.Is(err, db.ErrNotFound) || (err == nil && o.Provider != db.ProviderKlarna) {
		return o, db.KlarnaPayment{}, errNoSuchCallbackOrder
	}
	if err != nil {
		return o, db.KlarnaPayment{}, err
	}
	kp, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID)
	if errors.Is(err, db.ErrNotFound) {
		return o, kp, errNoSuchCallbackOrder
	}
	if err != nil {
		return o, kp, err
	}
	if !k.tokenMatches(o, kp, c.QueryParam("token")) {
		k.a.Log.Warn("klarna callback: wrong or missing token; refused", "request_id", requestID(c), "order", o.PublicID)
		return o, kp, errCallbackToken
	}
	inbound.SetOrder(c, o.ID) // the attempt's token: its page lists the call
	return o, kp, nil
}

// tokenMatches compares got with the attempt's token in constant time.
func (k *klarnaFlow) tokenMatches(o db.Order, kp db.KlarnaPayment, got string) bool {
	if kp.CallbackToken == "" || got == "" {
		return false
	}
	want, err := k.a.Box.Open(kp.CallbackToken, callbackAAD(o.ID))
	if err != nil {
		k.a.Log.Error("klarna callback: the attempt's token cannot be opened", "order", o.PublicID, "error", err)
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want.Reveal()), []byte(got)) == 1
}

// callbackAnswer answers a callback with status and a short JSON note (for
// the provider's logs; Klarna documents no body for either answer).
func callbackAnswer(c echo.Context, status int, note string) error {
	key := "status"
	if status >= 400 {
		key = "error"
	}
	return c.JSON(status, map[string]string{key: note})
}

// decodeCallback reads a callback's JSON body into v.
func decodeCallback(c echo.Context, v any) error {
	return json.NewDecoder(io.LimitReader(c.Request().Body, 64<<10)).Decode(v)
}

// authorizationCallback is POST /callbacks/klarna/authorization/:order
// {"authorization_token", "session_id"}: the customer approved in the
// widget. It places the order exactly as the browser's return does
// (authorized): the order request is stored under the attempt's lock, with
// the key derived from the attempt and the authorization, and sent as the
// same keyed work (klarnaOrderWork), so a browser returning at the same
// time joins it, and the order is placed and the cart emptied once. It
// answers 200 once the request is stored: the order placed, or its outcome
// left to the running work and then the sweep, which send the same stored
// request (Klarna documents no retries of this call, so a 5xx would buy
// nothing the shop does not already do). A callback for an attempt already
// submitted or settled changes nothing.
func (k *klarnaFlow) authorizationCallback(c echo.Context) error {
	o, kp, err := k.callbackAttempt(c)
	switch {
	case errors.Is(err, errNoSuchCallbackOrder):
		return callbackAnswer(c, http.StatusNotFound, "no such order")
	case errors.Is(err, errCallbackToken):
		return callbackAnswer(c, http.StatusUnauthorized, err.Error())
	case err != nil:
		return err
	}
	var body struct {
		AuthorizationToken string `json:"authorization_token"`
		SessionID          string `json:"session_id"`
	}
	if err := decodeCallback(c, &body); err != nil || body.AuthorizationToken == "" || len(body.AuthorizationToken) > 255 || body.SessionID == "" {
		return callbackAnswer(c, http.StatusBadRequest, `the body must be {"authorization_token": "...", "session_id": "..."}`)
	}
	if subtle.ConstantTimeCompare([]byte(body.SessionID), []byte(kp.SessionID)) != 1 {
		return callbackAnswer(c, http.StatusBadRequest, "session_id is not this order's Klarna session")
	}
	rid := requestID(c)
	if kp.Kind != db.KlarnaWidget || k.elsewhere(o, kp) || o.Status != db.StatusPending {
		k.a.Log.Info("klarna authorization callback: nothing to do", "request_id", rid, "order", o.PublicID, "status", o.Status)
		return callbackAnswer(c, http.StatusOK, "nothing to do")
	}
	ctx := c.Request().Context()
	if err := k.submitFromCallback(ctx, o, body.AuthorizationToken); err != nil {
		return err
	}
	k.callbackDeadline(c)
	_, err = awaitProvider(k.a, c, klarnaOrderWork(o.ID), func(ctx context.Context) (klarnaPlacement, error) {
		return k.sendOrder(ctx, o, rid)
	})
	switch {
	case errors.Is(err, errConfirming):
		k.a.Log.Info("klarna authorization callback: the order's outcome is not known yet; the stored request settles it",
			"request_id", rid, "order", o.PublicID)
	case err != nil:
		// Klarna refused (the customer may approve again in the browser),
		// or the shop failed: said to Klarna, and logged.
		k.a.Log.Warn("klarna authorization callback: the order was not placed", "request_id", rid, "order", o.PublicID,
			"correlation_id", klarna.CorrelationID(err), "error", err)
		return callbackAnswer(c, http.StatusBadGateway, "the order was not placed")
	}
	return callbackAnswer(c, http.StatusOK, "received")
}

// callbackDeadline gives a callback's provider work klarnaCallbackDeadline,
// or the shop's own deadline when that is shorter.
func (k *klarnaFlow) callbackDeadline(c echo.Context) {
	c.Set(ctxProviderDeadline, time.Now().Add(min(klarnaCallbackDeadline, k.a.providerDeadline())))
}

// submitFromCallback stores attempt o's order request for the callback's
// authorization, under the attempt's lock as the browser's submit does
// (submitOnce), unless a request was stored first.
func (k *klarnaFlow) submitFromCallback(ctx context.Context, o db.Order, authToken string) error {
	defer k.locks.Lock(o.ID)()
	cur, err := k.a.Store.OrderByPublicID(ctx, o.PublicID)
	if err != nil || cur.Status != db.StatusPending {
		return err
	}
	kp, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID)
	if err != nil || kp.Submitted() {
		return err
	}
	if _, err := k.submitApproved(ctx, cur, authToken); err != nil && !errors.Is(err, db.ErrStale) {
		return err
	}
	return nil
}

// Pending-order notification events.
const (
	klarnaFraudRiskAccepted = "FRAUD_RISK_ACCEPTED"
	klarnaFraudRiskRejected = "FRAUD_RISK_REJECTED"
	klarnaFraudRiskStopped  = "FRAUD_RISK_STOPPED"
)

// notification is POST /callbacks/klarna/notification/:order {"order_id",
// "event_type"}. The event only makes the shop ask Order Management
// (checkFraud), as Klarna advises; the order's fraud_status there is what
// the shop records. 200 when done, also for an order this shop does not
// know (logged: no retry would help); 503 when Klarna could not be asked in
// time or the shop does not know the order's Klarna id yet, so that Klarna
// sends it again in 10 minutes. Repeats change nothing.
func (k *klarnaFlow) notification(c echo.Context) error {
	rid := requestID(c)
	o, kp, err := k.callbackAttempt(c)
	switch {
	case errors.Is(err, errNoSuchCallbackOrder):
		k.a.Log.Warn("klarna notification for an order this shop does not know; answered 200", "request_id", rid, "order", c.Param("order"))
		return callbackAnswer(c, http.StatusOK, "unknown order")
	case errors.Is(err, errCallbackToken):
		return callbackAnswer(c, http.StatusUnauthorized, err.Error())
	case err != nil:
		return err
	}
	var body struct {
		OrderID   string `json:"order_id"`
		EventType string `json:"event_type"`
	}
	if err := decodeCallback(c, &body); err != nil || body.OrderID == "" || body.EventType == "" {
		return callbackAnswer(c, http.StatusBadRequest, `the body must be {"order_id": "...", "event_type": "..."}`)
	}
	switch body.EventType {
	case klarnaFraudRiskAccepted, klarnaFraudRiskRejected, klarnaFraudRiskStopped:
	default:
		// Unknown events are logged; Order Management is asked all the same.
		k.a.Log.Warn("klarna notification with an unknown event_type", "request_id", rid, "order", o.PublicID, "event_type", body.EventType)
	}
	switch {
	case k.elsewhere(o, kp):
		k.a.Log.Warn("klarna notification for an attempt made at another Klarna API; ignored", "request_id", rid, "order", o.PublicID)
		return callbackAnswer(c, http.StatusOK, "not this environment's order")
	case o.ProviderReference == "" && (o.Status == db.StatusPending || o.Status == db.StatusAuthorized):
		// Its order is being placed, or its answer was lost: the sweep
		// learns the id. Klarna asks again in 10 minutes.
		return callbackAnswer(c, http.StatusServiceUnavailable, "the order's Klarna id is not known yet")
	case body.OrderID != o.ProviderReference:
		k.a.Log.Warn("klarna notification names another Klarna order than this order's; ignored", "request_id", rid,
			"order", o.PublicID, "klarna_order_id", body.OrderID)
		return callbackAnswer(c, http.StatusOK, "unknown order")
	}
	k.callbackDeadline(c)
	_, err = awaitProvider(k.a, c, klarnaFraudWork(o.ID), func(ctx context.Context) (struct{}, error) {
		return struct{}{}, k.checkFraud(ctx, o)
	})
	if err != nil {
		k.a.Log.Warn("klarna notification: Order Management could not be asked; Klarna will send it again", "request_id", rid,
			"order", o.PublicID, "event_type", body.EventType, "correlation_id", klarna.CorrelationID(err), "error", err)
		return callbackAnswer(c, http.StatusServiceUnavailable, "Order Management could not be asked; send it again")
	}
	return callbackAnswer(c, http.StatusOK, "received")
}

// klarnaFraudWork keys asking Order Management about an order's review: a
// notification and the order page join the same question.
func klarnaFraudWork(orderID int64) string { return workKey("klarna.fraud", orderID) }

// Order details after Klarna's review.
const (
	klarnaAcceptedDetail = "Klarna accepted this order after its review. The payment is authorized; the order ships soon."
	klarnaRejectedDetail = "Klarna did not accept this order after its review, so it is cancelled. Nothing was charged."
	// Part of it was captured before the rejection reached the shop: what
	// was taken stays taken (a capture accepts the risk), and a person
	// decides what to do with the rest.
	// Customers read it too (the account page): the log tells the person.
	klarnaRejectedAfterCaptureDetail = "Klarna rejected this order after its review, after part of it was captured. " +
		"It is not cancelled: what was captured stays charged, and the shop is looking into the rest."
)

// checkFraud asks Order Management for placed order o and records its
// figures and fraud_status: ACCEPTED ends a review (the order may ship),
// REJECTED cancels the order (Klarna cancels a rejected order itself;
// nothing is charged) unless part of it was captured (then it is left for a
// person), PENDING changes nothing. An error means Klarna could not be
// asked; an order Order Management does not know is logged for a person.
func (k *klarnaFlow) checkFraud(ctx context.Context, o db.Order) error {
	mo, err := k.in(o).client.GetOrder(ctx, o.ProviderReference)
	k.asked.mark(o.ID, err != nil)
	if klarna.IsNoSuchOrder(err) {
		k.a.Log.Error("klarna: Order Management does not know the order the shop placed; check it in the Merchant Portal",
			"order", o.PublicID, "klarna_order_id", o.ProviderReference, "correlation_id", klarna.CorrelationID(err))
		return nil
	}
	if err != nil {
		return err
	}
	defer k.locks.Lock(o.ID)()
	kp, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID)
	if err != nil {
		return err
	}
	// Klarna's figures first: a capture made since the shop last looked
	// (in the Merchant Portal) keeps a rejected order from being cancelled.
	if err := k.a.Store.SetOrderAmounts(ctx, o.ID, klarnaAmounts(mo)); err != nil {
		return err
	}
	afterCapture := false
	switch mo.FraudStatus {
	case klarna.FraudAccepted:
		if kp.FraudStatus != klarna.FraudPending {
			// Not under review here (placed accepted, or before the shop
			// kept the status): only the status is recorded.
			return k.a.Store.SetKlarnaFraudStatus(ctx, o.ID, mo.FraudStatus)
		}
		_, err = k.a.Store.KlarnaFraudDecided(ctx, o.ID, mo.FraudStatus, false, klarnaAcceptedDetail, "")
	case klarna.FraudRejected:
		afterCapture, err = k.a.Store.KlarnaFraudDecided(ctx, o.ID, mo.FraudStatus, true, klarnaRejectedDetail, klarnaRejectedAfterCaptureDetail)
	default:
		return nil // still PENDING, or a status Klarna does not document: wait
	}
	switch {
	case errors.Is(err, db.ErrStale):
		return nil // recorded already
	case err != nil:
		return err
	case afterCapture:
		k.a.Log.Error("klarna: Klarna rejected an order after part of it was captured; it is not cancelled: check it in the Merchant Portal",
			"order", o.PublicID, "klarna_order_id", o.ProviderReference, "klarna_status", mo.Status,
			"captured_amount", mo.CapturedAmount, "order_amount", mo.OrderAmount)
	default:
		k.a.Log.Info("klarna: fraud review ended", "order", o.PublicID, "fraud_status", mo.FraudStatus)
	}
	return nil
}

// recheckFraud is the order page's fallback for a missed notification: an
// authorized order still under review asks Order Management, at most once
// per klarnaFraudRecheckAfter, within the request's deadline. It returns
// the order as it now is (as it was, when Klarna could not be asked).
func (k *klarnaFlow) recheckFraud(c echo.Context, o db.Order) (db.Order, error) {
	if o.Status != db.StatusAuthorized || o.ProviderReference == "" {
		return o, nil
	}
	if recent, _ := k.asked.recently(o.ID); recent {
		return o, nil
	}
	ctx := c.Request().Context()
	kp, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID)
	if err != nil || kp.FraudStatus != klarna.FraudPending || k.elsewhere(o, kp) {
		return o, err
	}
	if _, err := awaitProvider(k.a, c, klarnaFraudWork(o.ID), func(ctx context.Context) (struct{}, error) {
		return struct{}{}, k.checkFraud(ctx, o)
	}); err != nil {
		return o, nil // the page says what the shop knows; the next view asks again
	}
	return k.a.Store.OrderByPublicID(ctx, o.PublicID)
}
