package web

// Pay with Vipps MobilePay (ePayment, WEB_REDIRECT):
//
//  1. POST /checkout/vipps places a pending order (or finds the cart's open
//     one), stores the payment's reference and Idempotency-Keys, creates the
//     payment in the order's own currency and sends the browser to Vipps's
//     landing page. The shop does not ask for the customer's phone number:
//     Vipps's documentation says users should never be asked for it by the
//     merchant; the landing page asks (or the phone app-switches), see
//     https://developer.vippsmobilepay.com/docs/knowledge-base/landing-page. When Vipps is slower than the request's deadline
//     (deadline.go), the browser goes to the order page, which says the shop
//     is still confirming and reloads until the landing page is known.
//  2. Vipps sends the browser back to GET /checkout/vipps/return?order=...
//     The shop trusts nothing in that URL but the order id: it asks Vipps for
//     the payment's state (settle), authorizes the order of an approved
//     payment (the back office captures it when the order ships: admin.go),
//     and shows the order.
//  3. A customer who closes the tab leaves a pending order. It is settled when
//     its page is next viewed, and by a background sweep once the payment is
//     past its expiry.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/config"
	"refshop/web/keyedmutex"
	"refshop/web/vipps"
)

// vippsFlow holds the Vipps client and the per-order locks that keep two
// requests in this process from settling the same order at once. Across
// processes the order status compare-and-swap and the stored capture key
// keep a payment from being captured twice.
type vippsFlow struct {
	a      *App
	client *vipps.Client
	locks  keyedmutex.Map[int64] // by order id
	asked  askedLately
	batch  int // orders per sweep (vippsSweepBatch; tests lower it)
	// hooks is the webhook registration (vipps_webhook.go), which keeper
	// keeps (webhooks.go).
	hooks  *VippsWebhooks
	keeper *webhookKeeper
}

// newVippsFlow builds the flow with the one shared Vipps client (Deps.Vipps):
// one access token for the whole process.
func newVippsFlow(a *App) *vippsFlow {
	hooks := NewVippsWebhooks(a.Deps)
	return &vippsFlow{a: a, batch: vippsSweepBatch, client: a.Vipps,
		asked: askedLately{clock: providerClock(a.Deps, a.Config.Vipps.Mode), every: vippsRecheckAfter},
		hooks: hooks, keeper: hooks.keeper(a.Config.Vipps.Mode)}
}

// env is the Vipps environment the shop talks to, its API base URL: payments
// made at another are never asked about.
func (f *vippsFlow) env() string { return environment(f.a.Config.Vipps.APIURL) }

// ctxVippsForm carries a refused form back into the checkout page.
const ctxVippsForm = "vipps_form"

// checkoutMethod is the checkout page's Vipps MobilePay form.
func (f *vippsFlow) checkoutMethod(c echo.Context, _ pricedCart) (templ.Component, error) {
	v, _ := c.Get(ctxVippsForm).(views.VippsMethodView)
	return views.VippsMethod(v), nil
}

// checkout is POST /checkout/vipps. placeOrder hands back the cart's open
// Vipps attempt when there is one, so a repeated post of the form (a second
// click, or a browser posting again after a cut-off answer) goes back to that
// attempt (resume): a payment Vipps already made is shown, not made again.
func (f *vippsFlow) checkout(c echo.Context) error {
	a, ctx := f.a, c.Request().Context()
	o, reused, err := a.placeOrder(c, db.ProviderVipps)
	if err == nil && reused {
		if done, err := f.resume(c, o); done {
			return err
		}
		o, _, err = a.placeOrder(c, db.ProviderVipps)
	}
	if err != nil {
		return err
	}
	vp, err := f.attempt(ctx, o)
	if err != nil {
		return err
	}
	redirectURL, err := awaitProvider(a, c, vippsCreateWork(o.ID), func(ctx context.Context) (string, error) {
		return f.create(ctx, o, vp)
	})
	switch {
	case errors.Is(err, errConfirming):
		// The order page says so (orderPart) and checks again by itself.
		return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	case err != nil:
		return f.createRefused(c, err)
	}
	// Closed while Vipps made the payment (its cart was paid another way):
	// release it instead of sending the customer to pay.
	if cur, err := a.Store.OrderByPublicID(ctx, o.PublicID); err == nil && cur.Status != db.StatusPending {
		if cur.CartID != 0 {
			a.releaseClosed(ctx, cur.CartID)
		}
		return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	}
	if !landingAllowed(redirectURL, a.Config.Vipps) {
		return &UserError{Status: http.StatusBadGateway, Title: "Vipps MobilePay answered strangely",
			Message: "We could not open the Vipps MobilePay page. Nothing was charged. Please try again.",
			Err:     errors.New("vipps: redirectUrl is neither on the Vipps API's origin nor on a Vipps MobilePay domain")}
	}
	return c.Redirect(http.StatusSeeOther, redirectURL)
}

// vippsCreateWork and vippsSettleWork key an order's provider work
// (awaitProvider): requests for the same order join the same work.
func vippsCreateWork(orderID int64) string { return workKey("vipps.create", orderID) }
func vippsSettleWork(orderID int64) string { return workKey("vipps.settle", orderID) }

// attempt returns the order's payment row, storing its reference and
// Idempotency-Keys first when it has none. The keys derive from the order's
// own key, so a request that loses the race to store them gets the same ones.
// An order that cannot get a row is failed (nothing was sent to Vipps); one
// whose row cannot be read is not: its payment may exist.
func (f *vippsFlow) attempt(ctx context.Context, o db.Order) (db.VippsPayment, error) {
	a := f.a
	vp, err := a.Store.VippsPaymentByOrder(ctx, o.ID)
	if !errors.Is(err, db.ErrNotFound) {
		if err == nil && o.ProviderReference == "" {
			err = a.Store.SetProviderReference(ctx, o.ID, vp.Reference) // a crash came between the two
		}
		return vp, err
	}
	ref, err := vipps.Reference(o.PublicID)
	if err != nil {
		return vp, f.abandon(ctx, o, err)
	}
	vp = db.VippsPayment{
		OrderID: o.ID, Environment: f.env(), Reference: ref, SettleAfter: a.Clock.Now().Add(vippsSettleAfter),
		CreateKey: vipps.OperationKey(o.IdempotencyKey, "create"),
		CancelKey: vipps.OperationKey(o.IdempotencyKey, "cancel"),
	}
	if err := a.Store.CreateVippsPayment(ctx, vp); err != nil {
		if stored, gerr := a.Store.VippsPaymentByOrder(ctx, o.ID); gerr == nil {
			return stored, nil // another request stored it first
		}
		return vp, f.abandon(ctx, o, err)
	}
	if err := a.Store.SetProviderReference(ctx, o.ID, ref); err != nil {
		return vp, f.abandon(ctx, o, err)
	}
	return vp, nil
}

// create asks Vipps for the order's payment with the stored create key and
// records the landing page. It runs detached from the request (awaitProvider):
// it uses nothing of the request but the values it was given. When Vipps
// gave no answer, it asks Vipps before it decides anything: the payment may
// exist. A refusal fails the order (nothing was charged); an outcome still
// unknown leaves it pending (errConfirming) for the order page and the sweep.
func (f *vippsFlow) create(ctx context.Context, o db.Order, vp db.VippsPayment) (string, error) {
	a := f.a
	// A request that joined the attempt may start this after an earlier
	// create ended it (failed): no payment for a closed attempt. Its order
	// page says where it went.
	cur, err := a.Store.OrderByPublicID(ctx, o.PublicID)
	if err != nil {
		return "", err
	}
	if cur.Status != db.StatusPending {
		return "", errConfirming
	}
	// The returnUrl carries only the order id; the outcome is asked of Vipps.
	// (The real API wants https here: set SHOP_BASE_URL to an https origin;
	// the sandbox also accepts the shop's own configured http origin.)
	ret := a.Config.ShopBaseURL + "/checkout/vipps/return?order=" + url.QueryEscape(o.PublicID)
	// No customer: the shop does not know the customer's Vipps number and
	// must not ask for it; the landing page does. The amount is in the
	// order's own currency, which must be the sales unit's (5040 otherwise).
	res, err := f.client.CreatePayment(ctx, vipps.CreatePaymentRequest{
		Amount:             vipps.Amount{Currency: o.Currency, Value: o.TotalAmount},
		PaymentMethod:      vipps.PaymentMethod{Type: "WALLET"},
		Reference:          vp.Reference,
		ReturnURL:          ret,
		UserFlow:           "WEB_REDIRECT",
		PaymentDescription: "Refshop order " + o.PublicID[:8],
	}, vp.CreateKey)
	if err == nil {
		f.recordCreated(ctx, o, res.RedirectURL)
		return res.RedirectURL, nil
	}
	a.Log.Warn("vipps: create payment failed", "order", o.PublicID, "error", err)
	// No answer, or a conflict on the key or the reference: Vipps may hold
	// the payment.
	if vipps.IsKind(err, vipps.KindUnavailable) || vipps.IsKind(err, vipps.KindConflict) {
		p, gerr := f.client.GetPayment(ctx, vp.Reference)
		switch {
		case gerr == nil && p.State == vipps.StateCreated && p.RedirectURL != "":
			f.recordCreated(ctx, o, p.RedirectURL)
			return p.RedirectURL, nil
		case !vipps.IsKind(gerr, vipps.KindNotFound):
			// Vipps has it in another state, or could not be asked: the
			// order page and the sweep settle it (vippsFlow.settle).
			return "", errConfirming
		}
	}
	// Vipps refused, or has no such payment: nothing was charged.
	_ = a.failOrder(ctx, o, vippsCustomerMessage(err))
	return "", err
}

// recordCreated stores the landing page of a payment Vipps made. A failure
// only costs the shop its copy: the customer still goes to the landing page,
// and settle reads the state (and the page) from Vipps.
func (f *vippsFlow) recordCreated(ctx context.Context, o db.Order, redirectURL string) {
	if err := f.a.Store.SetVippsCreated(ctx, o.ID, redirectURL); err != nil {
		f.a.Log.Warn("vipps: recording the created payment", "order", o.PublicID, "error", err)
	}
}

// createRefused re-shows the checkout with a calm sentence for a payment
// Vipps did not create: 503 when Vipps is out, 502 otherwise (the customer
// typed nothing Vipps could refuse). The order was already marked failed;
// the cart is untouched.
func (f *vippsFlow) createRefused(c echo.Context, err error) error {
	status := http.StatusBadGateway
	if vipps.IsKind(err, vipps.KindUnavailable) {
		status = http.StatusServiceUnavailable
	}
	return f.a.checkoutAgain(c, status, ctxVippsForm, views.VippsMethodView{Notice: vippsCustomerMessage(err)})
}

// vippsCustomerMessage turns any error from the Vipps client into a calm
// sentence a customer can read. It never repeats Vipps's own text, which is
// written for developers.
func vippsCustomerMessage(err error) string {
	var e *vipps.Error
	if !errors.As(err, &e) {
		return "Vipps MobilePay could not be reached. Nothing was charged. Please try again in a moment."
	}
	switch e.Kind {
	case vipps.KindUnavailable:
		if e.Status == http.StatusTooManyRequests {
			return "Vipps MobilePay is busy right now. Nothing was charged. Please try again in a minute."
		}
		return "Vipps MobilePay is not answering right now. Nothing was charged. Please try again in a moment, or choose another payment method."
	case vipps.KindAuth:
		return "Paying with Vipps MobilePay is not available at the moment. Nothing was charged. Please choose another payment method."
	case vipps.KindInvalid:
		return "Vipps MobilePay could not accept this payment. Nothing was charged."
	case vipps.KindConflict:
		return "This payment is already being processed. Please check your order before trying again."
	case vipps.KindNotFound:
		return "Vipps MobilePay has no record of this payment. Nothing was charged."
	case vipps.KindState:
		switch e.Code() {
		case vipps.CodeInvalidCurrency:
			// The sales unit takes one currency, its country's: this order's
			// is another. Only another market's checkout can fix that.
			return "Vipps MobilePay cannot take payments in this order's currency here. Nothing was charged. Please choose another payment method."
		case vipps.CodeInvalidPhoneNumber:
			return "Vipps MobilePay did not accept that phone number. Nothing was charged. Please try again and enter the number your Vipps or MobilePay app uses."
		}
		return "Vipps MobilePay could not complete this step for the payment in its current state. Nothing more was charged."
	}
	return "Vipps MobilePay could not process the payment. Nothing was charged."
}

// vippsLandingDomains hold Vipps MobilePay's landing pages in real mode
// (landing.vipps.no, pay.mobilepay.dk, ...: other hosts than the API's). The
// shop redirects only there (landingAllowed) and the CSP's form-action allows
// exactly these (newCSP): one list for both.
var vippsLandingDomains = []string{"vipps.no", "mobilepay.dk", "mobilepay.fi"}

// landingAllowed accepts a redirectUrl on the configured API's own origin
// (the sandbox serves its landing page there) or, in real mode, on https on
// a subdomain of vippsLandingDomains, on the default port: what the CSP's
// https://*.vipps.no and the others allow. Anything else is not sent to the
// browser: a redirect the shop makes is the shop's word.
func landingAllowed(raw string, cfg config.Vipps) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	if origin(raw) == origin(cfg.APIURL) {
		return true
	}
	if cfg.Mode != config.Real || u.Scheme != "https" || u.Port() != "" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	for _, d := range vippsLandingDomains {
		if strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// abandon marks an order failed when the shop itself could not go on, and
// returns err for the error page.
func (f *vippsFlow) abandon(ctx context.Context, o db.Order, err error) error {
	_ = f.a.failOrder(ctx, o, "The payment could not be started. Nothing was charged.")
	return err
}

// vippsThanks is the return's notice for an approved payment: the money is
// reserved, and taken when the order ships.
const vippsThanks = "Thank you! Your payment is authorized; we capture it when your order ships."

// returned is GET /checkout/vipps/return, where the landing page sends the
// browser back.
func (f *vippsFlow) returned(c echo.Context) error {
	a := f.a
	o, err := a.loadOrder(c, c.QueryParam("order"))
	if err != nil {
		return err
	}
	if o.Provider != db.ProviderVipps {
		return echo.ErrNotFound
	}
	id := o.PublicID // the redirect's target, whatever settle manages
	o, err = f.settleWithin(c, o)
	switch {
	case errors.Is(err, errConfirming):
		// Still settling: the order page says so and checks again by itself.
	case err != nil:
		a.Log.Warn("vipps: settling on return", "order", id, "error", err)
		a.flash(c, "We could not confirm your payment with Vipps MobilePay yet. This page checks again when you reload it.")
	case o.Status == db.StatusAuthorized:
		a.flash(c, vippsThanks)
	case o.Status == db.StatusCancelled || o.Status == db.StatusFailed:
		a.flash(c, "The payment was not completed. Nothing was charged and your cart is unchanged: you can try again.")
	}
	return c.Redirect(http.StatusSeeOther, "/orders/"+id)
}
