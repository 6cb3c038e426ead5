package web

// The back office, for the shop's administrators (db.RoleAdmin; cmd/shop
// makes them):
//
//   - GET /admin lists every order with its money as the provider last
//     reported it;
//   - GET /admin/orders/:id shows one order, its provider's events, the
//     operations run on it, and the forms that act on its payment;
//   - POST /admin/orders/:id/capture ships it (whole=1: capture all that is
//     reserved and not taken) or captures part (amount); .../refund pays
//     back an amount; .../cancel releases the reservation; .../release
//     releases what a partly captured order will not capture, and .../extend
//     extends the authorization's time (where the provider has them: Klarna).
//     Each ends with a redirect to the order and a flash saying the
//     provider's answer; an amount above what is left is refused beside its
//     field, with nothing sent.
//
// Each payment flow acts through backOffice, its own implementation (the
// Vipps flow's is vipps_admin.go, Klarna's klarna_admin.go); a flow without
// one shows its forms disabled. What every provider's operations share (an
// operation stored with its Idempotency-Key before the first call, one at a
// time per order, its key reused on every retry, the provider asked after an
// unknown outcome, the sweep's settling) is admin_operations.go. Each page's
// forms carry a key of their own (form_key): the same form sent twice is one
// operation, a new page makes a new one. The call runs through
// awaitProvider (deadline.go), so a request ends in time whatever the
// provider does.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/market"
	"refshop/web/money"
)

// adminPageSize is how many orders one page of the list shows.
const adminPageSize = 50

// backOffice is what a payment flow lets the shop's administrators do with
// one of its orders. The Vipps and Klarna flows implement it
// (vipps_admin.go, klarna_admin.go), the invoice flow says why it offers
// nothing (altpay_admin.go); a flow that does not implement it shows its
// forms disabled (adminNotYet).
type backOffice interface {
	// adminLook is what the order's page shows of the provider: which
	// operations it allows now (or why not), its events, its own facts. It
	// may ask the provider (within ctx) and record the figures it reports:
	// the look's Order is o as it now is.
	adminLook(ctx context.Context, o db.Order) (adminLook, error)
	// operate runs one operation on o at the provider (operator.operate,
	// admin_operations.go). It uses only ctx (awaitProvider's: the request
	// may be gone). The outcome's message is what the administrator reads;
	// an error is the shop's own failure.
	operate(ctx context.Context, o db.Order, req adminRequest) (adminOutcome, error)
}

// adminLook is the provider's part of an order's back office page.
type adminLook struct {
	Order      db.Order
	Offers     adminOffers
	Events     []views.AdminEventView
	EventsNote string            // what the events are, or why there are none
	Facts      []views.AdminFact // the provider's own facts on the order (Klarna: its status, review, expiry)
	FactsNote  string            // where the facts come from, or why there are none
}

// adminOffers is, per operation, "" when the provider allows it now, or
// why not. Notes say what an offered one will do. Release and Extend are
// shown only where the provider has them (HasRelease, HasExtend).
type adminOffers struct {
	Ship, Capture, Refund, Cancel, Release, Extend string
	ShipNote, CaptureNote, RefundNote, CancelNote  string
	ReleaseNote, ExtendNote                        string
	HasRelease, HasExtend                          bool
	RefundDefault                                  int64 // the refund form's amount: all that was taken and not paid back
}

// adminRequest is what an administrator asked for.
type adminRequest struct {
	Kind    db.OperationKind
	Amount  int64 // minor units; unused for a whole capture, a cancel, a release and an extension
	Whole   bool  // capture: all that is reserved and not yet taken ("Ship")
	AdminID int64
	// Seen is the figures the administrator's page showed (seenFigures):
	// a new operation is refused when they are no longer the order's.
	Seen string
	// Form is the key of the page the form came from: the same key again
	// is the same operation (a retry), a new page's is a new one.
	Form string
}

// seenFigures is an order's figures as a form carries them back: what the
// provider reported captured, refunded and released. The totals never
// shrink, so figures equal to these are the ones the page showed.
func seenFigures(am db.Amounts) string {
	return fmt.Sprintf("%d.%d.%d", am.Captured, am.Refunded, am.Cancelled)
}

// adminOutcome is what the administrator reads after an operation.
type adminOutcome struct{ Message string }

// requireAdmin lets administrators through: a visitor who is not signed in
// goes to the sign-in page (and back here after), a customer gets 403.
func (a *App) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u := currentUser(c)
		if u == nil {
			return c.Redirect(http.StatusSeeOther, "/signin?next="+safeNext(c.Request().URL.RequestURI()))
		}
		if !u.IsAdmin() {
			return &UserError{Status: http.StatusForbidden, Title: "Not allowed",
				Message: "This page is for the shop's administrators."}
		}
		return next(c)
	}
}

// adminOrders is GET /admin: every order, newest first, adminPageSize a page.
func (a *App) adminOrders(c echo.Context) error {
	page, err := strconv.Atoi(c.QueryParam("page"))
	if c.QueryParam("page") == "" {
		page, err = 1, nil
	}
	if err != nil || page < 1 {
		return echo.ErrNotFound
	}
	orders, total, err := a.Store.AllOrders(c.Request().Context(), adminPageSize, (page-1)*adminPageSize)
	if err != nil {
		return err
	}
	pages := max((total+adminPageSize-1)/adminPageSize, 1)
	if page > pages {
		return echo.ErrNotFound
	}
	v := views.AdminOrdersView{Total: total, Page: page, Pages: pages}
	if page > 1 {
		v.PrevURL = "/admin?page=" + strconv.Itoa(page-1)
	}
	if page < pages {
		v.NextURL = "/admin?page=" + strconv.Itoa(page+1)
	}
	for _, o := range orders {
		am := knownAmounts(o.Order)
		v.Orders = append(v.Orders, views.AdminOrderRow{
			PublicID: o.PublicID, Placed: o.CreatedAt.Local().Format(dateFormat), Customer: orGuest(o.Email),
			Market: market.OrDefault(o.Market).Name, Provider: providerName(o.Provider), Status: string(o.Status),
			StatusText: statusText(o.Order),
			Total:      format(o.TotalAmount, o.Currency), Authorized: format(am.Authorized, o.Currency),
			Captured: format(am.Captured, o.Currency), Refunded: format(am.Refunded, o.Currency), Busy: o.Busy,
		})
	}
	return render(c, http.StatusOK, views.AdminOrders(a.chrome(c, "Back office"), v))
}

// adminLoadOrder loads the order the URL names (any customer's).
func (a *App) adminLoadOrder(c echo.Context) (db.Order, error) {
	o, err := a.Store.OrderByPublicID(c.Request().Context(), c.Param("id"))
	if errors.Is(err, db.ErrNotFound) {
		return db.Order{}, echo.ErrNotFound
	}
	return o, err
}

// adminOrder is GET /admin/orders/:id.
func (a *App) adminOrder(c echo.Context) error {
	o, err := a.adminLoadOrder(c)
	if err != nil {
		return err
	}
	return a.renderAdminOrder(c, http.StatusOK, o, nil, nil)
}

// renderAdminOrder renders an order's back office page; errs and values
// carry a refused form back (its field's message, what was typed).
func (a *App) renderAdminOrder(c echo.Context, status int, o db.Order, errs views.FormErrors, values map[string]string) error {
	ctx := c.Request().Context()
	look, err := a.backOffice(o).adminLook(ctx, o)
	if err != nil {
		return err
	}
	o = look.Order
	customer := "guest"
	if o.UserID != 0 {
		if u, err := a.Store.UserByID(ctx, o.UserID); err == nil {
			customer = u.Email
		}
	}
	am := knownAmounts(o)
	v := views.AdminOrderView{
		PublicID: o.PublicID, Placed: o.CreatedAt.Local().Format(dateFormat), Customer: customer,
		Market: market.OrDefault(o.Market).Name, Provider: providerName(o.Provider), ProviderReference: o.ProviderReference,
		Status: string(o.Status), StatusText: statusText(o), StatusDetail: o.StatusDetail, Lines: orderLineViews(o),
		Total: format(o.TotalAmount, o.Currency), Tax: format(o.TaxAmount, o.Currency), TaxLabel: taxLabel(o),
		Authorized: format(am.Authorized, o.Currency), Captured: format(am.Captured, o.Currency),
		Refunded: format(am.Refunded, o.Currency), Cancelled: format(am.Cancelled, o.Currency),
		Events: look.Events, EventsNote: look.EventsNote, Facts: look.Facts, FactsNote: look.FactsNote,
	}
	if o.Amounts.ReportedAt.IsZero() {
		v.AmountsNote = "The provider has reported no figures for this order; these follow from its status."
	} else {
		v.AmountsNote = "As " + providerName(o.Provider) + " reported them at " + o.Amounts.ReportedAt.Local().Format(dateFormat) + "."
	}
	ops, err := a.Store.OperationsByOrder(ctx, o.ID)
	if err != nil {
		return err
	}
	var busy *db.Operation
	for _, op := range ops {
		v.Operations = append(v.Operations, views.AdminOperationView{
			Time: op.CreatedAt.Local().Format(dateFormat), When: op.CreatedAt.UTC().Format(time.RFC3339),
			Kind: operationName(op.Kind), Amount: operationAmount(op), State: string(op.State),
			Key: op.Key, Answer: op.Answer,
		})
		if op.State.InFlight() {
			busy = &op
		}
	}
	// A new key for this page's forms; while an operation is in flight,
	// its own, so sending its form again retries it.
	form := rand.Text()
	if busy != nil {
		v.Busy = busyText(o, *busy)
		if busy.FormKey != "" {
			form = busy.FormKey
			if busy.State == db.OpUnknown {
				v.Retry = retryView(o, *busy)
			}
		}
		if busy.State == db.OpSent {
			keepChecking(c)
		}
	}
	v.Forms = adminFormsView(o, look.Offers, busy != nil, form, errs, values)
	return render(c, status, views.AdminOrder(a.chrome(c, "Order "+o.PublicID), v))
}

// adminBusyWhy is why no form is offered while an operation is in flight.
const adminBusyWhy = "An operation is under way on this order: wait for it to end."

// adminFormsView fills the order's forms from what its provider offers
// (none while an operation is in flight), keeping what was typed into a
// refused one.
func adminFormsView(o db.Order, off adminOffers, busy bool, form string, errs views.FormErrors, values map[string]string) views.AdminForms {
	action := func(why, note, value string) views.AdminAction {
		if busy {
			why = adminBusyWhy
		}
		return views.AdminAction{Offered: why == "", Why: why, Note: note, Value: value}
	}
	refund := ""
	if off.RefundDefault > 0 {
		refund = money.Amount{Minor: off.RefundDefault, Currency: o.Currency}.Major()
	}
	if v, ok := values["refund_amount"]; ok {
		refund = v
	}
	f := views.AdminForms{
		Action: "/admin/orders/" + o.PublicID, Currency: o.Currency, Errors: errs, Seen: seenFigures(o.Amounts), Form: form,
		Ship:    action(off.Ship, off.ShipNote, ""),
		Capture: action(off.Capture, off.CaptureNote, values["capture_amount"]),
		Refund:  action(off.Refund, off.RefundNote, refund),
		Cancel:  action(off.Cancel, off.CancelNote, ""),
		Release: action(off.Release, off.ReleaseNote, ""),
		Extend:  action(off.Extend, off.ExtendNote, ""),
	}
	f.Release.Hidden, f.Extend.Hidden = !off.HasRelease, !off.HasExtend
	return f
}

// adminOperate is POST /admin/orders/:id/{capture,refund,cancel,release,
// extend}: it reads the form, runs the operation through the order's flow
// within the request's deadline, and redirects to the order with what the
// provider answered. A bad amount, or one above what is left, renders the
// order again with the message beside its field and nothing sent.
func (a *App) adminOperate(kind db.OperationKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		o, err := a.adminLoadOrder(c)
		if err != nil {
			return err
		}
		req := adminRequest{Kind: kind, AdminID: currentUser(c).ID, Seen: c.FormValue("seen"), Form: c.FormValue("form_key")}
		field := string(kind) + "_amount"
		switch {
		case kind == db.OpCapture && c.FormValue("whole") != "":
			req.Whole = true
		case kind == db.OpCapture || kind == db.OpRefund:
			typed := c.FormValue("amount")
			refuse := func(msg string) error {
				return a.renderAdminOrder(c, http.StatusUnprocessableEntity, o, views.FormErrors{field: msg}, map[string]string{field: typed})
			}
			amt, err := money.Parse(typed, o.Currency)
			switch {
			case err != nil:
				return refuse("Enter an amount in " + o.Currency + " like 12.50.")
			case amt.Minor <= 0:
				return refuse("Enter an amount above 0.")
			}
			if msg := aboveWhatIsLeft(o, kind, amt.Minor); msg != "" {
				return refuse(msg)
			}
			req.Amount = amt.Minor
		}
		bo := a.backOffice(o)
		out, err := awaitProvider(a, c, adminWorkKey(o.ID, req), func(ctx context.Context) (adminOutcome, error) {
			return bo.operate(ctx, o, req)
		})
		switch {
		case errors.Is(err, errConfirming):
			a.flash(c, "Still waiting for "+providerName(o.Provider)+"'s answer. This page shows it when it comes.")
		case err != nil:
			return err
		default:
			a.flash(c, out.Message)
		}
		return c.Redirect(http.StatusSeeOther, "/admin/orders/"+o.PublicID)
	}
}

// aboveWhatIsLeft says why amount is more than the order's figures leave
// for kind (capture: reserved and not taken; refund: taken and not paid
// back), or "". The shop refuses it before asking the provider, which
// would refuse it too.
func aboveWhatIsLeft(o db.Order, kind db.OperationKind, amount int64) string {
	am := knownAmounts(o)
	switch left := am.Uncaptured(); {
	case kind != db.OpCapture:
	case left == 0:
		return "Nothing is left to capture."
	case amount > left:
		return "That is more than is left to capture: at most " + format(left, o.Currency) + "."
	}
	switch left := am.Refundable(); {
	case kind != db.OpRefund:
	case left == 0:
		return "Nothing captured is left to refund."
	case amount > left:
		return "That is more than can be refunded: at most " + format(left, o.Currency) + ", what was captured and not yet refunded."
	}
	return ""
}

// adminWorkKey names one back office request's provider work: the same
// form sent twice at once (a double click) joins the first; another
// operation on the same order waits for the flow's order lock.
func adminWorkKey(orderID int64, req adminRequest) string {
	return workKey(fmt.Sprintf("admin.%s.%s", req.Kind, req.Form), orderID)
}

// backOffice is the order's flow's back office, or adminNotYet.
func (a *App) backOffice(o db.Order) backOffice {
	if bo, ok := a.payments[o.Provider].(backOffice); ok {
		return bo
	}
	return adminNotYet{provider: o.Provider}
}

// adminNotYet stands in for a flow whose provider operations the back
// office does not make: its forms show disabled, saying so.
type adminNotYet struct{ provider db.Provider }

func (n adminNotYet) why() string {
	return "Not available for " + providerName(n.provider) + " orders."
}

func (n adminNotYet) adminLook(_ context.Context, o db.Order) (adminLook, error) {
	w := n.why()
	return adminLook{Order: o, Offers: adminOffers{Ship: w, Capture: w, Refund: w, Cancel: w},
		EventsNote: "The shop stores no event log from " + providerName(n.provider) + " for its orders."}, nil
}

func (n adminNotYet) operate(context.Context, db.Order, adminRequest) (adminOutcome, error) {
	return adminOutcome{Message: n.why() + " Nothing was sent."}, nil
}

// knownAmounts is the order's money as its provider reported it or, when
// it never did, as its status implies: authorized, the total is reserved;
// captured, it was taken.
func knownAmounts(o db.Order) db.Amounts {
	if !o.Amounts.ReportedAt.IsZero() {
		return o.Amounts
	}
	switch o.Status {
	case db.StatusAuthorized:
		return db.Amounts{Authorized: o.TotalAmount}
	case db.StatusCaptured:
		return db.Amounts{Authorized: o.TotalAmount, Captured: o.TotalAmount}
	}
	return db.Amounts{}
}

// busyText says what is under way on the order, since when, and what the
// administrator can do.
func busyText(o db.Order, op db.Operation) string {
	what := "An operation is under way: the " + operationNoun(op) + " with " + providerName(o.Provider) +
		", started " + op.CreatedAt.Local().Format(dateFormat) + "."
	if op.State == db.OpUnknown {
		return what + " It has no answer yet: " + op.Answer + " Retry it with the same idempotency key (nothing is taken twice), " +
			"or wait: the shop settles it by itself within minutes."
	}
	return what + " " + providerName(o.Provider) + " has not answered yet; this page checks again by itself."
}

// retryView is the form that sends op, whose outcome is unknown, again:
// its own page key, so the shop resends it with its idempotency key.
func retryView(o db.Order, op db.Operation) *views.AdminRetry {
	r := &views.AdminRetry{Action: "/admin/orders/" + o.PublicID + "/" + string(op.Kind), Form: op.FormKey,
		Seen: seenFigures(o.Amounts), Label: "Retry the " + operationNoun(op)}
	if op.Kind == db.OpCapture || op.Kind == db.OpRefund {
		r.Amount = money.Amount{Minor: op.Amount, Currency: op.Currency}.Major()
	}
	return r
}

// operationName is an operation's kind as the back office names it.
func operationName(k db.OperationKind) string {
	switch k {
	case db.OpCapture:
		return "Capture"
	case db.OpRefund:
		return "Refund"
	case db.OpCancel:
		return "Cancel"
	case db.OpRelease:
		return "Release the rest"
	case db.OpExtend:
		return "Extend authorization"
	}
	return string(k)
}

// operationAmount is an operation's amount as its row shows it: none for an
// extension.
func operationAmount(op db.Operation) string {
	if op.Kind == db.OpExtend {
		return ""
	}
	return format(op.Amount, op.Currency)
}

// operationNoun is "capture of NOK 100.00", "cancel".
func operationNoun(op db.Operation) string {
	switch op.Kind {
	case db.OpCancel:
		return "cancel"
	case db.OpRelease:
		return "release of the remaining " + format(op.Amount, op.Currency)
	case db.OpExtend:
		return "extension of the authorization"
	}
	return string(op.Kind) + " of " + format(op.Amount, op.Currency)
}

func orGuest(email string) string {
	if email == "" {
		return "guest"
	}
	return email
}

// The flows' back offices.
var (
	_ backOffice = (*vippsFlow)(nil)
	_ backOffice = (*klarnaFlow)(nil)
	_ backOffice = (*altpayFlow)(nil)
)
