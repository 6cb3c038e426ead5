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
//     back an amount; .../cancel releases the reservation. Each ends with a
//     redirect to the order and a flash saying the provider's answer.
//
// Each payment flow acts through backOffice, its own implementation (the
// Vipps flow's is vipps_admin.go); a flow without one shows its forms
// disabled. An operation is stored with its Idempotency-Key before the
// first call (db.StartOperation), one at a time per order, and reused on
// every retry; its call runs through awaitProvider (deadline.go), so a
// request ends in time whatever the provider does.

import (
	"context"
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
// one of its orders. The Vipps flow implements it (vipps_admin.go), the
// invoice flow says why it offers nothing (altpay_admin.go); a flow that
// does not implement it yet shows its forms disabled (adminNotYet).
type backOffice interface {
	// adminOffers says which operations the provider allows on o now, or
	// why not, in words.
	adminOffers(o db.Order) adminOffers
	// adminEvents lists the provider's events on o as the shop stores
	// them, with a note on what they are (or why there are none).
	adminEvents(ctx context.Context, o db.Order) ([]views.AdminEventView, string, error)
	// operate runs one operation on o at the provider: it stores it with its
	// Idempotency-Key first, then calls, and records the answer; after an
	// unknown outcome it asks the provider before answering. It uses only
	// ctx (awaitProvider's: the request may be gone). The outcome's message
	// is what the administrator reads; an error is the shop's own failure.
	operate(ctx context.Context, o db.Order, req adminRequest) (adminOutcome, error)
}

// adminOffers is, per operation, "" when the provider allows it now, or
// why not. Notes say what an offered one will do.
type adminOffers struct {
	Ship, Capture, Refund, Cancel string
	ShipNote, CaptureNote         string
	RefundNote, CancelNote        string
	RefundDefault                 int64 // the refund form's amount: all that was taken and not paid back
}

// adminRequest is what an administrator asked for.
type adminRequest struct {
	Kind    db.OperationKind
	Amount  int64 // minor units; unused for a whole capture and a cancel
	Whole   bool  // capture: all that is reserved and not yet taken ("Ship")
	AdminID int64
	// Seen is the figures the administrator's page showed (seenFigures):
	// the flow refuses a new operation when they are no longer the order's.
	Seen string
}

// seenFigures is an order's figures as a form carries them back: what the
// provider reported captured, refunded and released, and when.
func seenFigures(am db.Amounts) string {
	return fmt.Sprintf("%d.%d.%d.%d", am.Captured, am.Refunded, am.Cancelled, am.ReportedAt.UnixNano())
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
			Total: format(o.TotalAmount, o.Currency), Authorized: format(am.Authorized, o.Currency),
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
		Status: string(o.Status), StatusDetail: o.StatusDetail, Lines: orderLineViews(o),
		Total: format(o.TotalAmount, o.Currency), Tax: format(o.TaxAmount, o.Currency), TaxLabel: taxLabel(o),
		Authorized: format(am.Authorized, o.Currency), Captured: format(am.Captured, o.Currency),
		Refunded: format(am.Refunded, o.Currency), Cancelled: format(am.Cancelled, o.Currency),
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
	for _, op := range ops {
		v.Operations = append(v.Operations, views.AdminOperationView{
			Time: op.CreatedAt.Local().Format(dateFormat), When: op.CreatedAt.UTC().Format(time.RFC3339),
			Kind: operationName(op.Kind), Amount: format(op.Amount, op.Currency), State: string(op.State),
			Key: op.Key, Answer: op.Answer,
		})
		if op.State.InFlight() {
			v.Busy = busyText(o, op)
			if op.State == db.OpSent {
				keepChecking(c)
			}
		}
	}
	bo := a.backOffice(o)
	if v.Events, v.EventsNote, err = bo.adminEvents(ctx, o); err != nil {
		return err
	}
	v.Forms = adminFormsView(o, bo.adminOffers(o), errs, values)
	return render(c, status, views.AdminOrder(a.chrome(c, "Order "+o.PublicID), v))
}

// adminFormsView fills the order's forms from what its provider offers,
// keeping what was typed into a refused one.
func adminFormsView(o db.Order, off adminOffers, errs views.FormErrors, values map[string]string) views.AdminForms {
	action := func(why, note, value string) views.AdminAction {
		return views.AdminAction{Offered: why == "", Why: why, Note: note, Value: value}
	}
	refund := ""
	if off.RefundDefault > 0 {
		refund = money.Amount{Minor: off.RefundDefault, Currency: o.Currency}.Major()
	}
	if v, ok := values["refund_amount"]; ok {
		refund = v
	}
	return views.AdminForms{
		Action: "/admin/orders/" + o.PublicID, Currency: o.Currency, Errors: errs, Seen: seenFigures(o.Amounts),
		Ship:    action(off.Ship, off.ShipNote, ""),
		Capture: action(off.Capture, off.CaptureNote, values["capture_amount"]),
		Refund:  action(off.Refund, off.RefundNote, refund),
		Cancel:  action(off.Cancel, off.CancelNote, ""),
	}
}

// adminOperate is POST /admin/orders/:id/{capture,refund,cancel}: it reads
// the form, runs the operation through the order's flow within the
// request's deadline, and redirects to the order with what the provider
// answered. A bad amount renders the order again with the message beside
// its field.
func (a *App) adminOperate(kind db.OperationKind) echo.HandlerFunc {
	return func(c echo.Context) error {
		o, err := a.adminLoadOrder(c)
		if err != nil {
			return err
		}
		req := adminRequest{Kind: kind, AdminID: currentUser(c).ID, Seen: c.FormValue("seen")}
		field := string(kind) + "_amount"
		switch {
		case kind == db.OpCapture && c.FormValue("whole") != "":
			req.Whole = true
		case kind == db.OpCapture || kind == db.OpRefund:
			typed := c.FormValue("amount")
			amt, err := money.Parse(typed, o.Currency)
			switch {
			case err != nil:
				return a.renderAdminOrder(c, http.StatusUnprocessableEntity, o,
					views.FormErrors{field: "Enter an amount in " + o.Currency + " like 12.50."}, map[string]string{field: typed})
			case amt.Minor <= 0:
				return a.renderAdminOrder(c, http.StatusUnprocessableEntity, o,
					views.FormErrors{field: "Enter an amount above 0."}, map[string]string{field: typed})
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

// adminWorkKey names one back office request's provider work: the same
// request twice at once (a double click) joins the first; another
// operation on the same order waits for the flow's order lock.
func adminWorkKey(orderID int64, req adminRequest) string {
	what := strconv.FormatInt(req.Amount, 10)
	if req.Whole {
		what = "whole"
	}
	return workKey(fmt.Sprintf("admin.%s.%s", req.Kind, what), orderID)
}

// backOffice is the order's flow's back office, or adminNotYet.
func (a *App) backOffice(o db.Order) backOffice {
	if bo, ok := a.payments[o.Provider].(backOffice); ok {
		return bo
	}
	return adminNotYet{provider: o.Provider}
}

// adminNotYet stands in for a flow whose provider operations the back
// office does not make yet: its forms show disabled, saying so.
type adminNotYet struct{ provider db.Provider }

func (n adminNotYet) why() string {
	return "Not available yet for " + providerName(n.provider) + " orders."
}

func (n adminNotYet) adminOffers(db.Order) adminOffers {
	w := n.why()
	return adminOffers{Ship: w, Capture: w, Refund: w, Cancel: w}
}

func (n adminNotYet) adminEvents(context.Context, db.Order) ([]views.AdminEventView, string, error) {
	return nil, "The shop stores no event log from " + providerName(n.provider) + " for its orders.", nil
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

// busyText says what is under way on the order.
func busyText(o db.Order, op db.Operation) string {
	what := operationNoun(op) + " with " + providerName(o.Provider)
	if op.State == db.OpUnknown {
		return "The " + what + " has no answer yet: " + op.Answer + " Run the same operation again to retry it " +
			"with the same idempotency key (nothing is taken twice), or wait: the shop settles it by itself within minutes."
	}
	return "A " + what + " is under way. This page checks again by itself."
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
	}
	return string(k)
}

// operationNoun is "capture of NOK 100.00", "cancel".
func operationNoun(op db.Operation) string {
	if op.Kind == db.OpCancel {
		return "cancel"
	}
	return string(op.Kind) + " of " + format(op.Amount, op.Currency)
}

func orGuest(email string) string {
	if email == "" {
		return "guest"
	}
	return email
}
