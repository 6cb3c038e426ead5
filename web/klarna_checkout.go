package web

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/keyedmutex"
	"refshop/web/klarna"
	"refshop/web/klarna/link"
	"refshop/web/market"
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
//   - making the session and placing the order run within the request's
//     deadline (deadline.go): past it, the order page says the shop is still
//     starting or confirming the payment and reloads itself while the work
//     goes on, and a repeated submit joins that work;
//   - Klarna's server-to-server calls (klarna_callbacks.go): the session's
//     authorization callback places the order as the browser's return does,
//     should the browser never come back; the pending-order notification
//     ends a fraud review, checked with Order Management;
//   - the account page shows the link (masked) and unlinks it;
//   - "Buy again" repeats a past Klarna order with the customer present: a
//     session carrying the linked token, so the widget opens ready to buy.
type klarnaFlow struct {
	a       *App
	regions map[market.Region]*klarnaRegion
	locks   keyedmutex.Map[int64] // by order id: one submit or settle of an attempt at a time
	// carts serialises the checkout submits of a cart: an attempt is made
	// and marked starting before a second submit can see it.
	carts keyedmutex.Map[int64]
	// starting are the attempts this process made whose session request
	// has not finished, so a second submit joins it rather than take the
	// attempt for one a crash left (resume).
	starting idSet
	// asked spaces the order page's questions to Order Management about an
	// order under fraud review (klarnaFraudRecheckAfter).
	asked askedLately
}

// klarnaRegion is one Klarna region the shop sells in: Europe
// (api.klarna.com) or North America (api-na.klarna.com), each a separate
// merchant account with its own credentials
// (https://docs.klarna.com/api/api-urls). Every call for an order goes to
// its market's region; its attempts and its customers' links are kept under
// the region's environment (its API base URL), so nothing made in one region
// is ever sent to the other.
type klarnaRegion struct {
	client *klarna.Client
	env    string
	links  *link.Keeper
}

const (
	// klarnaSessionTTL is Klarna's session lifetime; the payment page starts
	// over a little before it ends rather than show a widget that will fail.
	klarnaSessionTTL = 48*time.Hour - 5*time.Minute
)

func newKlarnaFlow(a *App) *klarnaFlow {
	region := func(c *klarna.Client, baseURL string) *klarnaRegion {
		env := environment(baseURL)
		return &klarnaRegion{client: c, env: env,
			links: link.New(link.Config{Environment: env, Store: a.Store, Box: a.Box, Log: a.Log})}
	}
	return &klarnaFlow{a: a, regions: map[market.Region]*klarnaRegion{
		market.RegionEU: region(a.Klarna, a.Config.Klarna.APIURL),
		market.RegionNA: region(a.KlarnaNA, a.Config.Klarna.NA.APIURL),
	}, asked: askedLately{clock: providerClock(a.Deps, a.Config.Klarna.Mode), every: klarnaFraudRecheckAfter}}
}

// regionOf is the Klarna region of market m.
func (k *klarnaFlow) regionOf(m market.Market) *klarnaRegion { return k.regions[m.KlarnaRegion] }

// in is the Klarna region of order o's market: the only one its calls go to.
func (k *klarnaFlow) in(o db.Order) *klarnaRegion { return k.regionOf(market.OrDefault(o.Market)) }

// environments are the environments of the regions, each once (a test may
// point both regions at one API).
func (k *klarnaFlow) environments() []string {
	var envs []string
	for _, r := range []market.Region{market.RegionEU, market.RegionNA} {
		if env := k.regions[r].env; !slices.Contains(envs, env) {
			envs = append(envs, env)
		}
	}
	return envs
}

// elsewhere reports whether attempt kp of order o was made at another Klarna
// API than the one its region is configured with now (or before
// environments were kept).
func (k *klarnaFlow) elsewhere(o db.Order, kp db.KlarnaPayment) bool {
	return kp.Environment != k.in(o).env
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

// klarnaLines are the order lines and amounts Klarna gets for lines in
// market m: with VAT inside every line in Europe, and with the sales tax as
// a line of its own and no tax fields on the others in the United States
// (Klarna's tax-handling guide, web/klarna/lines.go).
func klarnaLines(m market.Market, lines []db.OrderLine, salesTax int64) ([]klarna.OrderLine, int64, int64) {
	if m.TaxIncluded {
		return klarna.Lines(klarnaItems(lines))
	}
	return klarna.USLines(klarnaItems(lines), salesTax)
}

func (k *klarnaFlow) orderURL(o db.Order) string {
	return k.a.Config.ShopBaseURL + "/orders/" + o.PublicID
}

// purchase is what attempt o's session and order carry, with lines and
// salesTax (the attempt's, or the cart's as it is when the order is placed,
// in the attempt's market).
func (k *klarnaFlow) purchase(o db.Order, lines []db.OrderLine, salesTax int64) klarna.Purchase {
	m := market.OrDefault(o.Market)
	ols, amount, tax := klarnaLines(m, lines, salesTax)
	return klarna.Purchase{PurchaseCountry: m.Country, PurchaseCurrency: o.Currency, Locale: m.Locale,
		OrderAmount: amount, OrderTaxAmount: tax, OrderLines: ols,
		MerchantURLs: &klarna.MerchantURLs{Confirmation: k.orderURL(o)}, MerchantReference1: o.PublicID}
}

func (k *klarnaFlow) sessionRequest(o db.Order, intent string, tok secret.Secret) klarna.SessionRequest {
	req := klarna.SessionRequest{AcquiringChannel: "ECOMMERCE", Intent: intent, Purchase: k.purchase(o, o.Lines, o.SalesTax)}
	if !tok.IsZero() {
		req.Customer = &klarna.Customer{CustomerToken: tok}
	}
	return req
}

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

func (k *klarnaFlow) checkoutMethod(c echo.Context, pc pricedCart) (templ.Component, error) {
	v := views.KlarnaMethodView{Guest: currentUser(c) == nil}
	if u := currentUser(c); u != nil {
		st, err := k.regionOf(pc.Market).links.Status(c.Request().Context(), u.ID)
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
	o, reused, err := k.place(c)
	if err == nil && reused {
		if done, err := k.resume(c, o); done {
			return err
		}
		o, reused, err = k.place(c)
	}
	if err != nil {
		return err
	}
	if !reused {
		defer k.starting.remove(o.ID)
	}
	return k.openSession(c, o, nil, "", "")
}

// place is placeOrder for Klarna, with a new attempt marked starting before
// another submit of the cart can see it.
func (k *klarnaFlow) place(c echo.Context) (db.Order, bool, error) {
	cart, err := k.a.cartID(c, false)
	if err != nil {
		return db.Order{}, false, err
	}
	defer k.carts.Lock(cart)()
	o, reused, err := k.a.placeOrder(c, db.ProviderKlarna)
	if err == nil && !reused {
		k.starting.add(o.ID)
	}
	return o, reused, err
}

// klarnaSessionWork and klarnaOrderWork key an attempt's provider work
// (awaitProvider): opening its session, and placing its order (the widget's
// or Buy again's). Requests for the same attempt join the same work.
func klarnaSessionWork(orderID int64) string { return workKey("klarna.session", orderID) }
func klarnaOrderWork(orderID int64) string   { return workKey("klarna.order", orderID) }

// openSession gives the attempt o a Klarna session within the request's
// deadline (session) and sends the customer to the payment page; past the
// deadline, to the order page, which says the payment is being started and
// checks again by itself while the work goes on.
func (k *klarnaFlow) openSession(c echo.Context, o db.Order, prev *db.KlarnaPayment, source, notice string) error {
	rid := requestID(c)
	n, err := awaitProvider(k.a, c, klarnaSessionWork(o.ID), func(ctx context.Context) (string, error) {
		return k.session(ctx, o, prev, source, rid)
	})
	switch {
	case errors.Is(err, errConfirming):
		return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	case err != nil:
		return err
	}
	if notice = strings.TrimSpace(notice + " " + n); notice != "" {
		k.a.flash(c, notice)
	}
	return c.Redirect(http.StatusSeeOther, "/checkout/klarna/"+o.PublicID)
}

// session is attempt o's provider work (awaitProvider: it uses only ctx and
// the values it was given, rid naming the request in logs). It updates the
// previous attempt's session (prev) while that is still open, else creates
// one, at the Klarna region of o's market, and records it with the ways to
// pay it offers. source is the public id of the order a "Buy again" repeats
// ("" for the cart's checkout). It returns what the customer should be
// told; a Klarna refusal fails the attempt (nothing was charged).
func (k *klarnaFlow) session(ctx context.Context, o db.Order, prev *db.KlarnaPayment, source, rid string) (notice string, err error) {
	// A request that joined the attempt may start this after an earlier run
	// recorded the session, or ended the attempt: its order page says where
	// it went.
	if cur, err := k.a.Store.OrderByPublicID(ctx, o.PublicID); err != nil || cur.Status != db.StatusPending {
		return "", cmp.Or(err, errConfirming)
	}
	if _, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID); !errors.Is(err, db.ErrNotFound) {
		return "", err
	}
	r := k.in(o)
	intent, tok := klarna.IntentBuy, secret.Secret{} // guests pay; nothing is linked
	if o.UserID != 0 {
		// buy_and_link "to both complete a payment and link or refresh the
		// customer token", with the stored token of this region when there
		// is one. The shop does not ask Klarna about the token first: Klarna
		// documents no such call for this token, and a token it no longer
		// accepts only makes the widget ask the customer to log in, after
		// which the order's answer carries a new one.
		intent = klarna.IntentBuyAndLink
		att, err := r.links.Begin(ctx, o.UserID)
		if err != nil {
			return "", err
		}
		tok = att.Token()
	}
	req := k.sessionRequest(o, intent, tok)
	// Unsubmitted, the attempt is the sweep's once its session has ended.
	kp := db.KlarnaPayment{OrderID: o.ID, Environment: r.env, Kind: db.KlarnaWidget, Intent: intent, SentToken: !tok.IsZero(),
		SourceOrder: source, SettleAfter: k.a.Clock.Now().Add(klarnaSessionTTL)}
	if k.takesCallbacks() {
		// Klarna's authorization callback, with the attempt's one-time token.
		callback, sealed, err := k.newCallbackToken(o.ID)
		if err != nil {
			return "", err
		}
		req.MerchantURLs.Authorization, kp.CallbackToken = k.callbackURL(klarnaAuthorizationCallback, o, callback), sealed
	}
	if o.UserID != 0 {
		// Sign in with Klarna (web/klarnasignin*.go): a fresh access token
		// as customer.klarna_access_token skips the widget's login.
		var n string
		if kp.SentAccessToken, n = k.a.klarnaSignIn.addAccessToken(ctx, rid, o.UserID, market.OrDefault(o.Market).KlarnaRegion, &req); n != "" {
			notice = strings.TrimSpace(notice + " " + n)
		}
	}
	if prev != nil && prev.SessionID != "" && prev.Environment == r.env {
		err := r.client.UpdateSession(ctx, prev.SessionID, req, klarna.IdempotencyKey(o.IdempotencyKey, "update_session"))
		switch {
		case err == nil:
			kp.SessionID, kp.ClientToken = prev.SessionID, prev.ClientToken
			// An update answers 204 with no body; the ways to pay may have
			// changed with the amount, so the session says which it offers
			// now. Unreadable, the previous ones stand (the widget's load
			// answers show_form false for one no longer offered).
			kp.Categories = prev.Categories
			if st, err := r.client.ReadSession(ctx, prev.SessionID); err == nil {
				kp.Categories = categories(st.PaymentMethodCategories)
			} else {
				k.a.Log.Warn("klarna: cannot read the updated session's payment method categories; keeping the previous ones",
					"request_id", rid, "session_id", prev.SessionID, "correlation_id", klarna.CorrelationID(err))
			}
		case klarna.StatusOf(err) == http.StatusNotFound:
			// Expired or completed: a new session below.
		default:
			return "", k.failAttempt(ctx, o, err)
		}
	}
	if kp.SessionID == "" {
		s, err := r.client.CreateSession(ctx, req, klarna.IdempotencyKey(o.IdempotencyKey, "create_session"))
		if err != nil {
			return "", k.failAttempt(ctx, o, err)
		}
		kp.SessionID, kp.ClientToken, kp.Categories = s.SessionID, s.ClientToken, categories(s.PaymentMethodCategories)
	}
	if err := k.a.Store.CreateKlarnaPayment(ctx, kp); err != nil {
		_ = k.a.failOrder(ctx, o, "The shop could not record the Klarna session.")
		return "", err
	}
	return notice, nil
}

// categories are a session's payment_method_categories as the shop keeps
// them: Klarna's identifiers and names, in Klarna's order.
func categories(pmc []klarna.PaymentMethodCategory) []db.KlarnaCategory {
	out := make([]db.KlarnaCategory, 0, len(pmc))
	for _, c := range pmc {
		out = append(out, db.KlarnaCategory{Identifier: c.Identifier, Name: c.Name})
	}
	return out
}

// failAttempt closes an attempt Klarna would not start.
func (k *klarnaFlow) failAttempt(ctx context.Context, o db.Order, err error) error {
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
	if errors.Is(err, db.ErrNotFound) || (err == nil && (kp.Kind != db.KlarnaWidget || k.elsewhere(o, kp))) {
		// No widget here: the order page says why (another environment's
		// session would be sent to this one).
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
		if kp.SourceOrder != "" {
			// A "Buy again": back to the order it repeats, not the cart.
			k.a.flash(c, "Your Klarna session expired. Choose \"Buy again with Klarna\" again to pay.")
			return c.Redirect(http.StatusSeeOther, "/orders/"+kp.SourceOrder)
		}
		k.a.flash(c, "Your Klarna session expired. Choose Klarna again to pay.")
		return c.Redirect(http.StatusSeeOther, "/checkout")
	}
	v := views.KlarnaPayView{
		OrderID: o.PublicID, Total: format(o.TotalAmount, o.Currency), Tax: format(o.TaxAmount, o.Currency), TaxLabel: taxLabel(o),
		ClientToken: kp.ClientToken, SDKURL: k.a.Config.Klarna.SDKURL, AuthorizeURL: "/checkout/klarna/" + o.PublicID + "/authorize",
		Recognised: kp.SentToken, SignedInWithKlarna: kp.SentAccessToken, Linking: kp.Intent == klarna.IntentBuyAndLink,
		SourceOrderID: kp.SourceOrder,
	}
	cats := kp.Categories
	if cats == nil {
		// An attempt from before the shop kept them: the session says
		// (within the request's deadline; unanswered, the page offers none
		// and says to try again).
		st, err := awaitProvider(k.a, c, workKey("klarna.read_session", o.ID), func(ctx context.Context) (klarna.SessionState, error) {
			return k.in(o).client.ReadSession(ctx, kp.SessionID)
		})
		if err == nil {
			cats = categories(st.PaymentMethodCategories)
		}
	}
	for _, cat := range cats {
		v.Categories = append(v.Categories, views.KlarnaCategoryView{Identifier: cat.Identifier, Name: cat.Name})
	}
	v.Lines = orderLineViews(o)
	return render(c, http.StatusOK, views.KlarnaPay(k.a.chrome(c, "Pay with Klarna"), v))
}

// authorized is POST /checkout/klarna/:id/authorize with the authorization
// token from Klarna.Payments.authorize: the shop stores the order request
// for the cart as it is now (so a cart changed since approval is Klarna's
// 409), then places the order within the request's deadline (sendOrder).
// The request is stored before it is sent, so a repeated submit, the sweep
// and a restarted shop all send the same one with the same key; a repeated
// submit while it is at Klarna joins the same work. Past the deadline the
// order page says the payment is being confirmed while the work goes on.
func (k *klarnaFlow) authorized(c echo.Context) error {
	if o, err := k.a.loadOrder(c, c.Param("id")); err == nil && o.Provider == db.ProviderKlarna &&
		(o.Status == db.StatusAuthorized || o.Status == db.StatusCaptured) {
		// Klarna's authorization callback placed the order before the
		// browser came back (klarna_callbacks.go): the customer who just
		// approved is thanked all the same.
		k.a.flash(c, k.placedThanks(c.Request().Context(), o))
		return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	}
	o, kp, done, err := k.klarnaAttempt(c)
	if done {
		return err
	}
	authToken := strings.TrimSpace(c.FormValue("authorization_token"))
	if authToken == "" || len(authToken) > 255 {
		return &UserError{Status: http.StatusBadRequest, Title: "Klarna did not approve",
			Message: "The page did not receive Klarna's approval. Go back and choose \"Buy with Klarna\" again."}
	}
	if !kp.Submitted() {
		if done, err := k.submitOnce(c, o, authToken); done {
			return err
		}
	}
	rid := requestID(c)
	res, err := awaitProvider(k.a, c, klarnaOrderWork(o.ID), func(ctx context.Context) (klarnaPlacement, error) {
		return k.sendOrder(ctx, o, rid)
	})
	switch {
	case errors.Is(err, errConfirming):
		// The order page says the payment is being confirmed, and checks
		// again by itself.
	case err != nil:
		return err
	case res.replaced != nil:
		return k.reapprove(c, *res.replaced, res.notice)
	case res.notice != "":
		k.a.flash(c, res.notice)
	}
	return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
}

// submitOnce stores attempt o's order request for the cart and
// authorization, unless another submit stored one first: one submit of an
// attempt at a time in this process, and ErrStale across processes. done is
// true when the handler answered (the attempt was settled meanwhile, or
// could not be submitted).
func (k *klarnaFlow) submitOnce(c echo.Context, o db.Order, authToken string) (done bool, err error) {
	defer k.locks.Lock(o.ID)()
	o, kp, done, err := k.klarnaAttempt(c)
	if done || kp.Submitted() {
		return done, err
	}
	submit := k.submitCart
	if kp.SourceOrder != "" {
		submit = k.submitRepeat
	}
	if _, err := submit(c, o, authToken); err != nil && !errors.Is(err, db.ErrStale) {
		return true, err
	}
	return false, nil
}

// submitRepeat stores "Buy again" attempt o's order request: its own lines,
// priced when the customer chose "Buy again" and approved in the widget
// for exactly that amount; the cart plays no part.
func (k *klarnaFlow) submitRepeat(c echo.Context, o db.Order, authToken string) (klarnaSubmission, error) {
	return k.submitApproved(c.Request().Context(), o, authToken)
}

// submitApproved stores attempt o's order request for its own lines: what
// its session carried, and so what the customer approved. "Buy again" and
// the authorization callback (no cart at hand) submit this way.
func (k *klarnaFlow) submitApproved(ctx context.Context, o db.Order, authToken string) (klarnaSubmission, error) {
	sub, err := k.newSubmission(o, o.Lines, o.SalesTax, authToken)
	if err != nil {
		return sub, err
	}
	return sub, k.submit(ctx, o, sub)
}

// klarnaPlacement is what came of sending an attempt's order, for the
// customer's request: what to tell them, and for an attempt Klarna wants
// approved again, the closed attempt's payment (whose session the next
// attempt refreshes).
type klarnaPlacement struct {
	notice   string
	replaced *db.KlarnaPayment
}

// sendOrder is a widget attempt's provider work (awaitProvider: it uses only
// ctx and the values it was given, rid naming the request in logs). It
// sends the stored order request and records Klarna's word: the order, an
// order placed whose answer was lost, a new approval asked for (the attempt
// is closed), or a refusal (the request is withdrawn: the customer may
// approve again). An outcome the session could not settle leaves the
// attempt to the sweep (errConfirming). Under the attempt's lock, so the
// sweep never sends it at the same time.
func (k *klarnaFlow) sendOrder(ctx context.Context, o db.Order, rid string) (klarnaPlacement, error) {
	defer k.locks.Lock(o.ID)()
	o, err := k.a.Store.OrderByPublicID(ctx, o.PublicID)
	if err == nil && (o.Status == db.StatusAuthorized || o.Status == db.StatusCaptured) {
		// Placed meanwhile (the authorization callback, or the sweep): a
		// customer's request waiting on it is thanked as if it had.
		return klarnaPlacement{notice: k.placedThanks(ctx, o)}, nil
	}
	if err != nil || o.Status != db.StatusPending {
		return klarnaPlacement{}, err // settled meanwhile: its order page shows how
	}
	kp, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID)
	if err != nil || !kp.Submitted() || k.elsewhere(o, kp) {
		// Withdrawn meanwhile (the order page leads back to the widget), or
		// made at another Klarna API (the order page says so).
		return klarnaPlacement{}, err
	}
	sub, err := k.stored(o, kp)
	if err != nil {
		return klarnaPlacement{}, err
	}
	att, err := k.linkAttempt(ctx, o, kp)
	if err != nil {
		return klarnaPlacement{}, err
	}
	res := k.send(ctx, o, kp, sub)
	switch res.outcome {
	case klarnaOrderPlaced:
		thanks, err := k.recordPlaced(ctx, o, res.order, att, "Klarna approved the payment.", "Thank you! Klarna approved your payment.")
		return klarnaPlacement{notice: thanks}, err
	case klarnaOrderUnseen:
		return klarnaPlacement{notice: "Thank you! Klarna approved your payment."}, k.recordUnseen(ctx, o, kp, res, rid)
	case klarnaOrderReapprove:
		return k.replace(ctx, o, kp, sub.auth, res.err, rid)
	case klarnaOrderRefused:
		k.noteCorrelationID(ctx, o, res.err)
		// Klarna holds nothing of this request: the customer may approve
		// again, and the sweep has nothing to ask until the session ends.
		if err := k.a.Store.WithdrawKlarnaOrder(ctx, o.ID, sub.key, kp.CreatedAt.Add(klarnaSessionTTL)); err != nil && !errors.Is(err, db.ErrStale) {
			return klarnaPlacement{}, err
		}
		return klarnaPlacement{}, klarnaError(res.err, "Klarna could not place the order",
			"Nothing was charged and your cart is unchanged. Go back to the Klarna page and try again, or choose another payment method.")
	}
	k.noteCorrelationID(ctx, o, res.err)
	k.a.Log.Warn("klarna: the order's outcome is unknown; the customer is told it is being confirmed",
		"request_id", rid, "order", o.PublicID, "session_id", kp.SessionID,
		"correlation_id", klarna.CorrelationID(res.err), "error", res.err)
	return klarnaPlacement{}, errConfirming
}

// submitCart stores attempt o's order request for the cart as it is now and
// the customer's authorization. An empty cart (emptied in another tab)
// closes the attempt and releases the authorization.
func (k *klarnaFlow) submitCart(c echo.Context, o db.Order, authToken string) (klarnaSubmission, error) {
	ctx := c.Request().Context()
	pc, err := k.a.priceCart(c)
	if err != nil {
		return klarnaSubmission{}, err
	}
	if len(pc.Lines) == 0 {
		_ = k.a.Store.SetOrderStatus(ctx, o.ID, db.StatusPending, db.StatusCancelled, "The cart was emptied before the order was placed.")
		// Best effort within the deadline: an authorization lapses by itself.
		_, _ = awaitProvider(k.a, c, workKey("klarna.cancel_authorization", o.ID), func(ctx context.Context) (struct{}, error) {
			k.cancelAuthorization(ctx, o, authToken)
			return struct{}{}, nil
		})
		return klarnaSubmission{}, errEmptyCart
	}
	if pc.Market.ID != o.Market {
		// The person switched market in another tab: the authorization is
		// for the old market's currency and country.
		_ = k.a.Store.SetOrderStatus(ctx, o.ID, db.StatusPending, db.StatusCancelled, "The market changed before the order was placed. Nothing was charged.")
		_, _ = awaitProvider(k.a, c, workKey("klarna.cancel_authorization", o.ID), func(ctx context.Context) (struct{}, error) {
			k.cancelAuthorization(ctx, o, authToken)
			return struct{}{}, nil
		})
		return klarnaSubmission{}, &UserError{Status: http.StatusConflict, Title: "The market changed",
			Message: "You switched to " + pc.Market.InName + " while paying in " + market.OrDefault(o.Market).InName + ". Nothing was charged. Go to checkout to pay in " + pc.Market.Currency + "."}
	}
	sub, err := k.newSubmission(o, pc.Lines, pc.SalesTax, authToken)
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
// merchant later, by the pending-order notification or when asked through
// Order Management (klarna_callbacks.go).
func klarnaPlaced(ko klarna.Order, detail, thanks string) (string, string) {
	if ko.FraudStatus == klarna.FraudPending {
		return "Klarna is reviewing this order. The payment is authorized; the order ships once Klarna accepts it.",
			"Thank you! Klarna is reviewing this order; we ship it once Klarna accepts it."
	}
	return detail, thanks
}

// placedThanks is the thank-you for an order Klarna placed, by the fraud
// status create order answered (klarnaPlaced's words).
func (k *klarnaFlow) placedThanks(ctx context.Context, o db.Order) string {
	kp, err := k.a.Store.KlarnaPaymentByOrder(ctx, o.ID)
	_, thanks := klarnaPlaced(klarna.Order{FraudStatus: kp.FraudStatus}, "", "Thank you! Klarna approved your payment.")
	if err != nil {
		return "Thank you! Klarna approved your payment."
	}
	return thanks
}

// replace closes attempt o after Klarna's 409 (the cart changed since
// approval) or 404 (the authorization expired), releasing an authorization
// that still holds for the old cart. The request then makes the next
// attempt (reapprove); notice says why.
func (k *klarnaFlow) replace(ctx context.Context, o db.Order, kp db.KlarnaPayment, authToken string, cause error, rid string) (klarnaPlacement, error) {
	k.a.Log.Info("klarna asks for a new approval", "request_id", rid, "order", o.PublicID,
		"status", klarna.StatusOf(cause), "correlation_id", klarna.CorrelationID(cause))
	notice := "Your Klarna approval expired. Please approve the payment again."
	if klarna.CartChanged(cause) {
		notice = "Your cart changed after you approved the payment. Please approve the new total with Klarna."
		k.cancelAuthorization(ctx, o, authToken) // it still holds for the old cart
	}
	if err := k.a.Store.SetOrderStatus(ctx, o.ID, db.StatusPending, db.StatusCancelled, "Replaced: Klarna asked for a new approval."); err != nil && !errors.Is(err, db.ErrStale) {
		return klarnaPlacement{}, err
	}
	return klarnaPlacement{notice: notice, replaced: &kp}, nil
}

// reapprove makes a new attempt for the cart as it is now, refreshes the
// replaced attempt's session (prev) with it, and asks the customer to
// approve again.
func (k *klarnaFlow) reapprove(c echo.Context, prev db.KlarnaPayment, notice string) error {
	if prev.SourceOrder != "" {
		// A "Buy again": the next attempt repeats the same earlier order.
		return k.buyAgainFrom(c, prev.SourceOrder, &prev, notice)
	}
	next, _, err := k.a.placeOrder(c, db.ProviderKlarna)
	if err != nil {
		return err
	}
	return k.openSession(c, next, &prev, "", notice)
}
