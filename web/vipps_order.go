package web

import (
	"context"
	"errors"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/views"
	"refshop/web/money"
	"refshop/web/vipps"
)

// vippsConfirming is what a customer reads while the shop waits for Vipps.
const vippsConfirming = "We are still confirming with Vipps MobilePay. This page checks again by itself."

// vippsElsewhere explains a payment made at another Vipps environment (a
// switch between the sandbox and a real API on one data dir).
const vippsElsewhere = "This payment was made in another Vipps MobilePay environment than the shop uses now, so the shop does not ask Vipps about it here."

// refresh brings a Vipps order up to date before its page is shown: only a
// pending one (an authorized order's payment changes only when the back
// office ships, refunds or cancels it, and records it then), not while
// this process is still creating its payment (Vipps has nothing to say yet),
// and only when Vipps was not asked about it within vippsRecheckAfter. It
// waits for Vipps no longer than the request's deadline.
func (f *vippsFlow) refresh(c echo.Context, o db.Order) (db.Order, error) {
	if o.Status != db.StatusPending {
		return o, nil
	}
	if f.a.providerWorkRunning(vippsCreateWork(o.ID)) {
		return o, nil
	}
	if recent, _ := f.asked.recently(o.ID); recent {
		return o, nil
	}
	settled, err := f.settleWithin(c, o)
	if errors.Is(err, errConfirming) {
		return f.a.Store.OrderByPublicID(c.Request().Context(), o.PublicID)
	}
	if err != nil {
		// The page still shows what the shop knows; orderPart says Vipps
		// could not be asked (and the next ask waits vippsRecheckAfter).
		f.a.Log.Warn("vipps: settling on view", "order", o.PublicID, "error", err)
		f.asked.mark(o.ID, true)
		return f.a.Store.OrderByPublicID(c.Request().Context(), o.PublicID)
	}
	return settled, nil
}

// orderPart adds the Vipps reference, the payment's history and the next step.
func (f *vippsFlow) orderPart(c echo.Context, o db.Order) (orderPart, error) {
	ctx := c.Request().Context()
	vp, err := f.a.Store.VippsPaymentByOrder(ctx, o.ID)
	if errors.Is(err, db.ErrNotFound) {
		return orderPart{}, nil
	}
	if err != nil {
		return orderPart{}, err
	}
	events, err := f.history(ctx, o.ID)
	if err != nil {
		return orderPart{}, err
	}
	v := views.VippsOrderView{Reference: vp.Reference, State: vippsStateLabel(vp, o)}
	if vp.Captured > 0 {
		v.Captured = money.Amount{Minor: vp.Captured, Currency: o.Currency}.Format()
	}
	open := o.Status == db.StatusPending || o.Status == db.StatusAuthorized
	_, askFailed := f.asked.recently(o.ID)
	elsewhere := vp.Environment != f.env()
	switch {
	case elsewhere:
		v.Notice = vippsElsewhere
	case open && (vp.State == "" || f.a.providerWorkRunning(vippsCreateWork(o.ID)) || f.a.providerWorkRunning(vippsSettleWork(o.ID))):
		// Vipps has not answered yet (or the shop is still asking): say so,
		// and check again soon.
		v.Confirming, v.CheckURL = vippsConfirming, "/orders/"+o.PublicID
		keepChecking(c)
	case askFailed:
		v.Notice = "Vipps MobilePay could not be reached just now, so this may not be the latest. Reload the page to check again."
	}
	for _, e := range events {
		v.Events = append(v.Events, views.VippsEventView{
			Name: e.Name, Label: vippsEventLabel(e.Name),
			Amount: money.Amount{Minor: e.Amount, Currency: e.Currency}.Format(),
			Time:   e.OccurredAt.Local().Format(dateFormat), When: e.OccurredAt.UTC().Format(time.RFC3339),
			Webhook: e.Webhook,
		})
	}
	p := orderPart{Details: []templ.Component{views.VippsOrderDetails(v)}}
	switch {
	case o.Status == db.StatusPending && !elsewhere && vp.State == vipps.StateCreated && landingAllowed(vp.RedirectURL, f.a.Config.Vipps):
		p.Actions = append(p.Actions, views.VippsContinue(vp.RedirectURL))
	case o.Status == db.StatusCancelled || o.Status == db.StatusFailed:
		p.Actions = append(p.Actions, views.VippsTryAgain())
	}
	return p, nil
}

// vippsStateLabel says where the payment stands at Vipps. Vipps keeps a
// captured payment AUTHORIZED (its aggregate says where the money went), so
// an authorized payment is named by what the shop recorded as captured.
func vippsStateLabel(vp db.VippsPayment, o db.Order) string {
	switch vp.State {
	case "":
		return ""
	case vipps.StateCreated:
		return "Waiting for approval"
	case vipps.StateAuthorized:
		switch {
		case vp.Captured >= o.TotalAmount:
			return "Captured"
		case vp.Captured > 0:
			return "Partly captured"
		}
		return "Approved, not yet captured"
	case vipps.StateAborted:
		return "Rejected"
	case vipps.StateExpired:
		return "Expired"
	case vipps.StateTerminated:
		return "Cancelled"
	}
	return vp.State
}

func vippsEventLabel(name string) string {
	switch name {
	case "CREATED":
		return "Payment requested"
	case "AUTHORIZED":
		return "Approved in Vipps MobilePay"
	case "CAPTURED":
		return "Payment taken"
	case "CANCELLED":
		return "Reservation released"
	case "REFUNDED":
		return "Refunded"
	case "ABORTED":
		return "Rejected in Vipps MobilePay"
	case "EXPIRED":
		return "Expired before it was approved"
	case "TERMINATED":
		return "Cancelled by the shop"
	}
	return name
}

// browserRefs: the sandbox links the landing page the browser opens to the
// payment's reference.
func (f *vippsFlow) browserRefs(ctx context.Context, o db.Order) ([]string, bool, error) {
	vp, err := f.a.Store.VippsPaymentByOrder(ctx, o.ID)
	if errors.Is(err, db.ErrNotFound) {
		return nil, f.a.inSandbox(f.env()), nil
	}
	if err != nil {
		return nil, false, err
	}
	return []string{vp.Reference}, f.a.inSandbox(vp.Environment), nil
}
