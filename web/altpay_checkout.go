package web

// Pay by invoice with Alternative Payments.
//
//  1. Checkout, "Pay by invoice" (POST /checkout/altpay): the shop places a
//     pending order (or finds the cart's open one: a second submit shows the
//     same invoice), creates the provider customer (once per user, or per
//     guest session, email and name), records the invoice request with the
//     shop's own reference, asks the provider for the invoice in the order's
//     currency, records its id, and sends the customer to the invoice page.
//     POST /invoices is not documented as idempotent, so it is sent once;
//     when its outcome is unknown (no answer, a 5xx) the shop looks the
//     invoice up by its reference, and creates another only once none has
//     turned up for altpayQuietPeriod (place). The provider work runs within
//     the request's deadline (deadline.go): when no answer has come by then,
//     the customer is sent to the order page ("we are confirming", reloading
//     itself) while the work goes on, and the order page and a background
//     reconciliation ask again with the same request (altpay_sweep.go) until
//     the provider answers.
//  2. The invoice page (GET /invoices/:id) loads static/js/altpay-invoice.js,
//     which asks the shop for a checkout token (POST
//     /api/altpay/invoices/:id/token), then calls the provider's checkout API
//     from the browser with static/js/altpay-checkout.js: the invoice, the
//     saved payment methods, adding one, paying. When the token expires the
//     snippet's onAccessTokenExpired asks the same endpoint again.
//  3. After paying, the page submits POST /invoices/:id/confirm: the shop asks
//     the provider for the invoice and marks the order paid only when the
//     provider says PAID. The browser's word is never taken.
//
// The OAuth client credentials and the OAuth token stay in web/altpay on the
// server; only the checkout JWT, scoped to one customer and one invoice,
// reaches the browser.

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/altpay"
	"refshop/web/clock"
)

const (
	altpayDueIn   = 14 * 24 * time.Hour // invoices are due two weeks after the order
	altpayFormKey = "altpay_form"       // a refused checkout form, for the method to show again
	// altpayRecheckAfter is how long an order page shows what the provider
	// last said about an unconfirmed invoice before asking again, as Vipps's
	// does (vippsRecheckAfter).
	altpayRecheckAfter = 10 * time.Second
)

// altpayFlow is pay by invoice with Alternative Payments.
type altpayFlow struct {
	a      *App
	client *altpay.Client
	clock  clock.Clock // the provider's (providerClock): altpayQuietPeriod runs on it
	asked  askedLately // order page views
	// hooks is the webhook subscription (altpay_webhook.go), which keeper
	// keeps (webhooks.go).
	hooks  *AltpayWebhooks
	keeper *webhookKeeper
}

// newAltpayFlow builds the flow with the one shared client (Deps.Altpay): one
// OAuth token for the whole process.
func newAltpayFlow(a *App) *altpayFlow {
	clk := providerClock(a.Deps, a.Config.Altpay.Mode)
	hooks := NewAltpayWebhooks(a.Deps)
	return &altpayFlow{a: a, client: a.Altpay, clock: clk,
		asked: askedLately{clock: clk, every: altpayRecheckAfter}, hooks: hooks, keeper: hooks.keeper(a.Config.Altpay.Mode)}
}

// env is the provider environment the shop talks to, its API base URL: the
// stored ids of another one are never sent.
func (f *altpayFlow) env() string { return environment(f.a.Config.Altpay.APIURL) }

// checkoutMethod renders the checkout option, with what a refused submission
// typed and why it was refused.
func (f *altpayFlow) checkoutMethod(c echo.Context, _ pricedCart) (templ.Component, error) {
	v, _ := c.Get(altpayFormKey).(views.AltpayMethodView)
	v.Guest = currentUser(c) == nil
	return views.AltpayMethod(v), nil
}

// checkout places the order and its invoice, then shows the invoice page.
func (f *altpayFlow) checkout(c echo.Context) error {
	a := f.a
	uid, gid := a.owner(c)
	payer := db.AltpayPayer{Environment: f.env(), UserID: uid, GuestID: gid}
	if u := currentUser(c); u != nil {
		payer.Email, payer.Name = u.Email, u.Name
	} else {
		v := views.AltpayMethodView{Email: strings.TrimSpace(c.FormValue("email")), Name: strings.TrimSpace(c.FormValue("name")), Errors: views.FormErrors{}}
		if addr, err := mail.ParseAddress(v.Email); err != nil || addr.Address != v.Email {
			v.Errors["email"] = "Enter the email address the invoice should go to, like name@example.com."
		}
		if v.Name == "" {
			v.Errors["name"] = "Enter the name the invoice is addressed to."
		}
		if len(v.Errors) > 0 {
			v.Errors[""] = "Please check the invoice details below."
			return a.checkoutAgain(c, http.StatusUnprocessableEntity, altpayFormKey, v)
		}
		payer.Email, payer.Name = v.Email, v.Name
	}
	if payer.Name == "" {
		payer.Name, _, _ = strings.Cut(payer.Email, "@")
	}
	// placeOrder refuses an empty cart before the provider is asked anything.
	o, reused, err := a.placeOrder(c, db.ProviderAltpay)
	if err == nil && reused {
		if done, err := f.resume(c, o, payer); done {
			return err
		}
		o, _, err = a.placeOrder(c, db.ProviderAltpay)
	}
	if err != nil {
		return err
	}
	return f.ask(c, o, payer)
}

// altpayNotCreated is the detail of an attempt whose invoice surely does not
// exist: the provider refused it, or was never asked.
const altpayNotCreated = "The invoice could not be created. Nothing was charged."

// altpayConfirming is what a customer reads while the shop does not know
// whether the provider made the invoice.
const altpayConfirming = "We are confirming your invoice with Alternative Payments. This page shows it as soon as it is confirmed; nothing is charged until you pay it."

// altpayInvoiceKey names attempt o's invoice request for a customer in the
// logs: one request per order and customer. It is not sent: the API
// documents no Idempotency-Key for POST /invoices.
func altpayInvoiceKey(o db.Order, customerID string) string {
	return "invoice-" + o.IdempotencyKey + "/" + customerID
}

// altpayInvoiceWork and altpaySyncWork key an attempt's provider work
// (awaitProvider): requests for the same attempt join the same work.
func altpayInvoiceWork(orderID int64) string { return workKey("altpay.invoice", orderID) }
func altpaySyncWork(orderID int64) string    { return workKey("altpay.sync", orderID) }

// ask brings about attempt o's invoice for payer within the request's
// deadline and shows the outcome: the invoice page; the checkout's error
// when the provider refused (there is no invoice then, and the attempt is
// failed); or the order page, which says the shop is confirming the invoice,
// while the provider has not answered (the work goes on, and the order page
// and the background ask again with the same request).
func (f *altpayFlow) ask(c echo.Context, o db.Order, payer db.AltpayPayer) error {
	_, err := awaitProvider(f.a, c, altpayInvoiceWork(o.ID), func(ctx context.Context) (struct{}, error) {
		return struct{}{}, f.invoice(ctx, o, payer)
	})
	var e *altpay.Error
	switch {
	case err == nil:
		return c.Redirect(http.StatusSeeOther, "/invoices/"+o.PublicID)
	case errors.Is(err, errConfirming):
		return c.Redirect(http.StatusSeeOther, "/orders/"+o.PublicID)
	case errors.As(err, &e):
		return altpayUserError(err, "The invoice could not be created")
	}
	return err
}

// invoice is attempt o's provider work (awaitProvider: it uses only ctx and
// the values it was given). The payer's provider customer is made first when
// it has none, and the invoice request recorded before the provider is asked
// for it (reserve), so every later try sends the same request, built from
// the attempt as stored. A customer
// the provider no longer has (its data was reset) is made again once, and
// the invoice addressed to it. A refusal of the first create fails the
// attempt (no invoice exists) and is returned; anything else, an outcome
// still unknown, leaves the attempt pending for the order page and the
// background (errConfirming).
func (f *altpayFlow) invoice(ctx context.Context, o db.Order, payer db.AltpayPayer) error {
	a := f.a
	// A request that joined the attempt may start this after an earlier run
	// ended it: its order page says where it went.
	cur, err := a.Store.OrderByPublicID(ctx, o.PublicID)
	if err != nil || cur.Status != db.StatusPending {
		return cmp.Or(err, errConfirming)
	}
	o = cur
	inv, err := a.Store.AltpayInvoiceFor(ctx, o.ID)
	if errors.Is(err, db.ErrNotFound) {
		inv, err = f.reserve(ctx, o, payer)
	}
	switch {
	case err != nil:
		return err
	case inv.InvoiceID != "":
		return nil
	}
	err = f.place(ctx, o, inv)
	if err != nil && f.customerGone(ctx, err, inv.CustomerID) {
		if inv, err = f.readdress(ctx, o, inv, payer); err == nil {
			err = f.place(ctx, o, inv)
		}
	}
	switch {
	case err == nil:
		return nil
	case altpayRefused(err):
		_ = a.failOrder(ctx, o, altpayNotCreated) // logged there; the customer's error is the provider's
		return err
	}
	// The invoice may exist: the order page and the background ask again.
	a.Log.Warn("altpay: whether the invoice was made is unknown; the order page and the background ask again", "order", o.PublicID, "error", err)
	if err := a.Store.SetAltpayInvoiceSettleAfter(ctx, o.ID, a.Clock.Now()); err != nil {
		a.Log.Warn("altpay: marking the invoice to ask again now", "order", o.PublicID, "error", err)
	}
	return errConfirming
}

// reserve makes the payer's provider customer when it has none, then
// records attempt o's invoice request for it. Nothing has been asked of the
// provider for the invoice yet, so a failure fails the attempt: nothing was
// charged.
func (f *altpayFlow) reserve(ctx context.Context, o db.Order, payer db.AltpayPayer) (db.AltpayInvoice, error) {
	a := f.a
	cust, err := f.customer(ctx, payer)
	if err != nil {
		_ = a.failOrder(ctx, o, altpayNotCreated)
		return db.AltpayInvoice{}, err
	}
	// Making the customer may take the provider a while: an attempt closed
	// meanwhile gets no invoice.
	if cur, err := a.Store.OrderByPublicID(ctx, o.PublicID); err != nil || cur.Status != db.StatusPending {
		return db.AltpayInvoice{}, cmp.Or(err, errConfirming)
	}
	now := a.Clock.Now()
	inv, err := a.Store.ReserveAltpayInvoice(ctx, db.AltpayInvoice{OrderID: o.ID, Environment: f.env(), CustomerID: cust,
		IdempotencyKey: altpayInvoiceKey(o, cust), Reference: altpayReference(o),
		DueDate: now.Add(altpayDueIn).UTC().Format(time.DateOnly), SettleAfter: now.Add(attemptStartWindow)})
	if err != nil {
		_ = a.failOrder(ctx, o, altpayNotCreated)
	}
	return inv, err
}

// altpayQuietPeriod is how long after a create was sent the shop waits,
// finding no invoice, before it sends another. An empty list moments after a
// timeout or a 5xx proves nothing: a slow provider may still be working on
// the first request and commit it later, and POST /invoices has no
// idempotency key to make a second create harmless. Five minutes is far
// beyond any request the provider could still be carrying out (the shop's
// own client gives up after 20 seconds, and load balancers cut requests
// after a minute or so) while keeping a customer whose create truly failed
// from waiting long: the order page says the shop is confirming meanwhile
// and finds a late invoice at its next look. It runs on the provider's
// clock (the sandbox clock in sandbox mode, the shop's otherwise), so
// POST /control/clock moves a demo past it.
const altpayQuietPeriod = 5 * time.Minute

// altpayLookupMargin is how long before the request was recorded the lookup
// starts its created_at_start filter: the provider's clock may be behind the
// shop's. The match is by reference; the filter only shortens the walk.
const altpayLookupMargin = 24 * time.Hour

// altpayQuiet is place's outcome while a create sent at sent may still be
// carried out: nothing was found, and nothing is created before until. It
// is errConfirming: the customer is told the shop is confirming.
type altpayQuiet struct {
	sent, until time.Time
	err         error // what the last create or lookup said, for the logs; may be nil
}

func (q *altpayQuiet) Error() string {
	msg := fmt.Sprintf("altpay: no invoice found for the create sent at %s; no other create before %s",
		q.sent.UTC().Format(time.RFC3339), q.until.UTC().Format(time.RFC3339))
	if q.err != nil {
		msg += ": " + q.err.Error()
	}
	return msg
}

func (q *altpayQuiet) Is(target error) bool { return target == errConfirming }

// altpayUnknown is a refusal or a failed lookup once a create has been sent:
// the invoice may exist, whatever the provider said this time (a 4xx from
// GET /invoices says nothing about the invoice; a refused second create says
// nothing about the first). It hides the provider's error from
// altpayRefused on purpose, so that no caller fails the attempt on it.
type altpayUnknown struct{ err error }

func (u altpayUnknown) Error() string {
	return "altpay: whether the invoice was made is unknown: " + u.err.Error()
}

func (u altpayUnknown) Is(target error) bool { return target == errConfirming }

// place brings about the attempt's invoice with the request recorded before
// the first try (customer, due date, reference), and records it. POST
// /invoices is not documented as idempotent, so it is never sent blindly
// twice: once a create has been sent (inv.CreateSentAt, stored before the
// request leaves), every later try, on the order page, in the background or
// after a restart, first looks for the invoice by the shop's reference
// (reuse), and sends another create only when the provider has none and the
// last one was sent longer than altpayQuietPeriod ago; until then the
// outcome is *altpayQuiet (confirming). One run sends at most one create:
// after an unknown outcome it looks once more and stops.
//
// Only a refusal of a first create (none sent before) is returned as the
// provider's error, for the caller to fail the attempt: nothing was made.
// Anything else once a create has been sent (a refused lookup, a refused
// later create) is altpayUnknown. The answer is recorded; when that fails
// the invoice id is logged and the error returned, and the next try finds
// the same invoice.
func (f *altpayFlow) place(ctx context.Context, o db.Order, inv db.AltpayInvoice) error {
	a := f.a
	req := altpayInvoiceFor(o, inv)
	first := inv.CreateSentAt.IsZero()
	if !first {
		if done, err := f.reuse(ctx, o, inv, req); done || err != nil {
			return err
		}
		if until := inv.CreateSentAt.Add(altpayQuietPeriod); f.clock.Now().Before(until) {
			return &altpayQuiet{sent: inv.CreateSentAt, until: until}
		}
		a.Log.Warn("altpay: no invoice found well after the last create was sent; asking again",
			"order", o.PublicID, "create_sent_at", inv.CreateSentAt, "quiet_period", altpayQuietPeriod)
	}
	sent := f.clock.Now()
	if err := a.Store.MarkAltpayInvoiceSent(ctx, o.ID, sent); err != nil {
		return err
	}
	got, err := f.client.CreateInvoice(ctx, req)
	switch {
	case err == nil:
		return f.record(ctx, o, got)
	case altpayRefused(err) && first:
		// Nothing was made, and nothing before: the next create is a first
		// one again (a customer the provider lost is made again, readdress).
		if uerr := a.Store.UnmarkAltpayInvoiceSent(ctx, o.ID, sent); uerr != nil {
			a.Log.Warn("altpay: forgetting a refused create", "order", o.PublicID, "error", uerr)
		}
		return err
	case altpayRefused(err):
		return altpayUnknown{err} // an earlier create may have made it
	}
	// The outcome is unknown: look once (a lost answer's invoice is there
	// already), and never create again in this run.
	a.Log.Info("altpay: no answer to the invoice request; looking for it", "order", o.PublicID, "error", err)
	inv.CreateSentAt = sent
	if done, lerr := f.reuse(ctx, o, inv, req); done || lerr != nil {
		return lerr
	}
	return &altpayQuiet{sent: sent, until: sent.Add(altpayQuietPeriod), err: err}
}

// reuse looks for the invoice an earlier create of req may have made for
// attempt o (lookup) and records it: done when it did. An invoice that
// another order records meanwhile (the content match of a memo-less invoice
// may name another order's) is left to it, and the rest of the list looked
// at. Any error is altpayUnknown, or the record's.
func (f *altpayFlow) reuse(ctx context.Context, o db.Order, inv db.AltpayInvoice, req altpay.NewInvoice) (done bool, err error) {
	a := f.a
	since := inv.CreatedAt.Add(-altpayLookupMargin)
	if inv.CreatedAt.IsZero() {
		since = time.Time{}
	}
	listed, err := f.client.FindInvoices(ctx, altpay.InvoiceFilter{CustomerID: inv.CustomerID, CreatedAtStart: since, Limit: 100},
		func(in altpay.Invoice) bool { return altpayMatches(in, req, inv.Reference) })
	if err != nil {
		return false, altpayUnknown{err}
	}
	for {
		found, ok, err := f.lookup(ctx, o, inv, listed)
		if err != nil || !ok {
			return false, err
		}
		err = f.record(ctx, o, found)
		if !errors.Is(err, db.ErrAltpayInvoiceTaken) {
			if err == nil {
				a.Log.Info("altpay: found the invoice an unanswered request made; reusing it", "order", o.PublicID, "invoice", found.ID)
			}
			return err == nil, err
		}
		a.Log.Warn("altpay: a matching invoice was recorded by another order meanwhile; looking at the others",
			"order", o.PublicID, "invoice", found.ID)
		listed = slices.DeleteFunc(listed, func(in altpay.Invoice) bool { return in.ID == found.ID })
	}
}

// record stores the provider's invoice for attempt o.
func (f *altpayFlow) record(ctx context.Context, o db.Order, got altpay.Invoice) error {
	a := f.a
	err := a.Store.SaveAltpayInvoice(ctx, o.ID, got.ID, got.Status)
	switch {
	case errors.Is(err, db.ErrStale):
		// Another invoice is recorded for the order: a create whose outcome
		// was unknown was carried out after all, after another one (sent
		// once the lookup had found nothing for altpayQuietPeriod) made this
		// one, or the reverse. The order keeps the one recorded first.
		a.Log.Error("altpay: a second invoice was made for one order; archive it at the provider",
			"order", o.PublicID, "invoice", got.ID)
		return nil
	case errors.Is(err, db.ErrAltpayInvoiceTaken):
		return err // reuse looks further; a fresh create's id is never another order's
	case err != nil:
		a.Log.Error("altpay: the invoice was made but could not be recorded; it is looked for again",
			"order", o.PublicID, "invoice", got.ID, "error", err)
	}
	return err
}

// lookup picks, among the invoices listed for attempt o's customer since a
// margin before the request was recorded that match its request
// (altpayMatches: the shop's reference in the memo or, the create body the
// docs show having no memo, the documented content of the request), the one
// no other order of the shop recorded. More than one is left to a person:
// the attempt stays unconfirmed (an altpayUnknown error), and nothing is
// created.
func (f *altpayFlow) lookup(ctx context.Context, o db.Order, inv db.AltpayInvoice, listed []altpay.Invoice) (altpay.Invoice, bool, error) {
	a := f.a
	var mine []altpay.Invoice
	for _, in := range listed {
		owner, err := a.Store.AltpayInvoiceOrder(ctx, f.env(), in.ID)
		switch {
		case errors.Is(err, db.ErrNotFound) || (err == nil && owner == o.ID):
			mine = append(mine, in)
		case err != nil:
			return altpay.Invoice{}, false, err
		}
	}
	switch len(mine) {
	case 0:
		return altpay.Invoice{}, false, nil
	case 1:
		return mine[0], true, nil
	}
	ids := make([]string, len(mine))
	for i, in := range mine {
		ids[i] = in.ID
	}
	a.Log.Error("altpay: several invoices match one order's request; the shop makes no other. Keep one, archive the rest, and settle the order by hand",
		"order", o.PublicID, "reference", inv.Reference, "invoices", strings.Join(ids, ","))
	return altpay.Invoice{}, false, altpayUnknown{fmt.Errorf("%d invoices match the request of order %s", len(mine), o.PublicID)}
}

// altpayMatches reports whether the listed invoice in is the one req asked
// for: not archived (a person archived it, as the several-matches log asks),
// the same customer and the shop's reference in its memo or, when the
// provider kept no memo, the same documented content.
func altpayMatches(in altpay.Invoice, req altpay.NewInvoice, reference string) bool {
	if in.CustomerID != req.CustomerID || strings.EqualFold(in.Status, altpay.InvoiceArchived) {
		return false
	}
	if in.Memo != "" {
		return reference != "" && in.Memo == reference
	}
	if !strings.EqualFold(in.Currency, req.Currency) || !strings.HasPrefix(in.DueDate, req.DueDate) || len(in.LineItems) != len(req.LineItems) {
		return false
	}
	var total altpay.Decimal
	for i, l := range req.LineItems {
		got := in.LineItems[i]
		if got.Description != l.Description || got.Quantity != l.Quantity || got.Amount != l.Amount {
			return false
		}
		total += l.Amount * altpay.Decimal(l.Quantity)
	}
	return in.Total == total
}

// altpayRefused reports a refusal: a 4xx other than 429 means the request
// was not carried out, so no invoice (or customer) was made by it.
func altpayRefused(err error) bool {
	var e *altpay.Error
	return errors.As(err, &e) && e.Status >= 400 && e.Status < 500 && e.Status != http.StatusTooManyRequests
}

// customerGone reports whether a refusal was about a customer the provider
// no longer has: it answered 404, or refused the customer_id field, and a
// read of the customer answers 404.
func (f *altpayFlow) customerGone(ctx context.Context, err error, customerID string) bool {
	var e *altpay.Error
	if !altpayRefused(err) || !errors.As(err, &e) {
		return false
	}
	if _, field := e.ValidationErrors["customer_id"]; !field && e.Kind != altpay.KindNotFound {
		return false
	}
	_, gerr := f.client.GetCustomer(ctx, customerID)
	return altpay.IsKind(gerr, altpay.KindNotFound)
}

// readdress makes the payer's customer again after the provider lost it and
// addresses attempt o's unrecorded invoice to the new one.
func (f *altpayFlow) readdress(ctx context.Context, o db.Order, inv db.AltpayInvoice, payer db.AltpayPayer) (db.AltpayInvoice, error) {
	a := f.a
	f.a.Log.Warn("altpay: the provider no longer has the customer; making it again", "order", o.PublicID, "customer", inv.CustomerID)
	row, err := a.Store.AltpayCustomerFor(ctx, payer)
	if err != nil {
		return inv, err
	}
	if row.CustomerID == inv.CustomerID {
		if err := a.Store.ForgetAltpayCustomer(ctx, row.ExternalID, row.CustomerID); err != nil {
			return inv, err
		}
	}
	cust, err := f.customer(ctx, payer)
	if err != nil {
		return inv, err
	}
	if err := a.Store.SetAltpayInvoiceCustomer(ctx, o.ID, cust, altpayInvoiceKey(o, cust)); err != nil {
		return inv, err
	}
	return a.Store.AltpayInvoiceFor(ctx, o.ID)
}

// customer returns the provider customer of the payer, creating it the first
// time. The external id is stored before the provider call, so a retry after
// a lost answer finds the customer made by the first try instead of making a
// second one.
func (f *altpayFlow) customer(ctx context.Context, p db.AltpayPayer) (string, error) {
	a := f.a
	row, err := a.Store.ReserveAltpayCustomer(ctx, p)
	if err != nil || row.CustomerID != "" {
		return row.CustomerID, err
	}
	cu, err := f.client.EnsureCustomer(ctx, altpay.NewCustomer{Email: p.Email, ExternalID: row.ExternalID, Name: p.Name})
	if err != nil {
		return "", err
	}
	if err := a.Store.SetAltpayCustomerID(ctx, row.ExternalID, cu.ID); err != nil {
		if errors.Is(err, db.ErrStale) { // another request stored it first: use theirs
			row, err = a.Store.AltpayCustomerFor(ctx, p)
			return row.CustomerID, err
		}
		return "", err
	}
	return cu.ID, nil
}

// altpayReference is the shop's own reference of attempt o's invoice, sent
// in its memo: the order's public id, which a person reconciling by hand
// also finds there.
func altpayReference(o db.Order) string { return "Refshop order " + o.PublicID }

// altpayInvoiceFor is the invoice of attempt o as recorded in inv: one line
// per order line at its unit price, plus the US sales tax as a line of its
// own (an invoice has no tax field), in the order's currency, with the
// recorded reference in the memo. Alternative Payments documents USD as the
// only invoice currency, and the shop offers pay by invoice in its United
// States market only; an order in another currency would be sent as it is,
// and the provider's refusal shown (altpayUserError).
func altpayInvoiceFor(o db.Order, inv db.AltpayInvoice) altpay.NewInvoice {
	n := altpay.NewInvoice{
		Currency: o.Currency, CustomerID: inv.CustomerID, DueDate: inv.DueDate,
		Memo: inv.Reference,
	}
	for _, l := range o.Lines {
		n.LineItems = append(n.LineItems, altpay.LineItem{Description: l.Name, Quantity: l.Quantity, Amount: altpay.Decimal(l.UnitPrice)})
	}
	// An invoice has line items and no tax field: US sales tax is a line of
	// its own, so the invoice's total is what the order page shows.
	if o.SalesTax > 0 {
		n.LineItems = append(n.LineItems, altpay.LineItem{Description: "Sales tax", Quantity: 1, Amount: altpay.Decimal(o.SalesTax)})
	}
	return n
}

// altpayUserError turns a provider error into what the customer reads: fixed
// sentences only. The provider's own message (for developers, perhaps naming
// other records) stays in err, which the central error handler logs.
func altpayUserError(err error, title string) error {
	if _, ok := err.(*UserError); ok {
		return err // a sentence of the shop's own already
	}
	ue := &UserError{Status: http.StatusBadGateway, Title: title, Err: err,
		Message: "Alternative Payments did not answer. Nothing was charged and your cart is kept; please try again in a moment."}
	var e *altpay.Error
	if !errors.As(err, &e) {
		return ue
	}
	_, currency := e.ValidationErrors["currency"]
	switch {
	case e.Kind == altpay.KindAuth: // the shop's credentials: 401, or 403 "Invalid credentials"
		ue.Message = "Pay by invoice is not available right now. Nothing was charged and your cart is kept; please choose another payment method."
	case currency && e.Status >= 400 && e.Status < 500: // the currency enum documents USD only
		ue.Message = "Pay by invoice is available for orders in US dollars only. Nothing was charged and your cart is kept; please choose another payment method."
		ue.Reference = e.RequestID
	case e.Status >= 400 && e.Status < 500:
		ue.Message = "Alternative Payments could not accept this request. Nothing was charged and your cart is kept; please try again, or choose another payment method."
		ue.Reference = e.RequestID
	default: // a 5xx, or no answer (then there is no request id)
		ue.Reference = e.RequestID
	}
	return ue
}
