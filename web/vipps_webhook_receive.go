package web

// POST /webhooks/vipps: Vipps MobilePay's ePayment events, signed with the
// registration's secret (vipps_webhook.go). Each delivery is checked
// (vipps.VerifyWebhook against the stored registration's URL), stored once
// per pspReference and name, and acted on under the order's lock, the lock
// settle takes: an authorized payment authorizes its pending order from the
// event alone, without asking Vipps; an aborted, expired or terminated one
// cancels it; captures, refunds and cancels that were not the back office's
// own refresh the order's figures. Polling (the order page, the sweep)
// stays as the fallback for events that never come.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"refshop/db"
	"refshop/web/clock"
	"refshop/web/inbound"
	"refshop/web/vipps"
)

const (
	// vippsWebhookMaxBody bounds a delivery's body: a WebhookEvent is a few
	// hundred bytes.
	vippsWebhookMaxBody = 16 << 10
	// vippsWebhookAnswerWithin is how long a delivery waits for its event to
	// be acted on before it is answered anyway: Vipps counts no answer
	// within 10 seconds as a failure. The event is stored by then, and the
	// work goes on (tracked by the app: providerWork); if it fails, a
	// repeat delivery or polling settles the order.
	vippsWebhookAnswerWithin = 5 * time.Second
)

// webhook is POST /webhooks/vipps. Its answers are short plain text for
// Vipps; nothing secret is logged (neither the secret nor the signature).
func (f *vippsFlow) webhook(c echo.Context) error {
	a, r := f.a, c.Request()
	ctx := r.Context()
	body, err := io.ReadAll(io.LimitReader(r.Body, vippsWebhookMaxBody+1))
	switch {
	case err != nil:
		return c.String(http.StatusBadRequest, "unreadable body\n")
	case len(body) > vippsWebhookMaxBody:
		a.Log.Warn("vipps webhook: refused a body over the limit", "limit", vippsWebhookMaxBody)
		return c.String(http.StatusRequestEntityTooLarge, "body too large\n")
	}
	row, sec, err := f.hooks.current(ctx)
	switch {
	case errors.Is(err, db.ErrNotFound):
		// Vipps retries: by then the registration may be stored.
		a.Log.Warn("vipps webhook: a delivery came while no registration is stored; it cannot be checked")
		return c.String(http.StatusServiceUnavailable, "no registration to check against\n")
	case err != nil:
		return err
	}
	if err := vipps.VerifyWebhook(sec, r.Method, row.URL, r.Header, body, f.webhookClock().Now(), vipps.WebhookMaxSkew); err != nil {
		a.Log.Warn("vipps webhook: refused", "reason", err.Error(), "x_ms_date", r.Header.Get("x-ms-date"), "remote", c.RealIP())
		return c.String(http.StatusUnauthorized, "signature not accepted\n")
	}
	ev, err := vipps.ParseWebhookEvent(body)
	if err != nil {
		a.Log.Warn("vipps webhook: a signed body that is not an event", "error", err)
		return c.String(http.StatusBadRequest, "not a WebhookEvent\n")
	}
	return f.receive(c, ev)
}

// webhookClock is the time deliveries are dated by: in sandbox mode the
// sandbox's (it signs on its own clock; one running apart is followed
// every few seconds), else the shop's.
func (f *vippsFlow) webhookClock() clock.Clock {
	return providerClock(f.a.Deps, f.a.Config.Vipps.Mode)
}

// receive stores a checked event and acts on it (settleEvent), answering
// within vippsWebhookAnswerWithin.
func (f *vippsFlow) receive(c echo.Context, ev vipps.WebhookEvent) error {
	a, ctx := f.a, c.Request().Context()
	vp, err := a.Store.VippsPaymentByReference(ctx, ev.Reference)
	if errors.Is(err, db.ErrNotFound) {
		// Another shop's on the same sales unit, or an order deleted since:
		// nothing to do, and Vipps must not retry it.
		a.Log.Info("vipps webhook: an event for a payment the shop does not know", "reference", ev.Reference, "event", ev.Name)
		return c.String(http.StatusOK, "unknown reference\n")
	}
	if err != nil {
		return err
	}
	inbound.SetOrder(c, vp.OrderID) // signed, and the order's: its page lists the delivery
	if ev.MSN != a.Config.Vipps.MSN {
		a.Log.Warn("vipps webhook: an event for another sales unit", "msn", ev.MSN, "reference", ev.Reference, "event", ev.Name)
		return c.String(http.StatusOK, "another sales unit\n")
	}
	row := db.VippsWebhookEvent{OrderID: vp.OrderID, MSN: ev.MSN, Reference: ev.Reference, PSPReference: ev.PSPReference,
		Name: ev.Name, Amount: ev.Amount.Value, Currency: ev.Amount.Currency, OccurredAt: ev.Timestamp, Success: ev.Success}
	if ev.IdempotencyKey != nil {
		row.IdempotencyKey = *ev.IdempotencyKey
	}
	stored, fresh, err := a.Store.AddVippsWebhookEvent(ctx, row)
	if err != nil {
		return err // 500: Vipps delivers it again
	}
	if !fresh && !stored.SettledAt.IsZero() {
		a.Log.Info("vipps webhook: a repeat of an event already acted on", "reference", ev.Reference, "event", ev.Name)
		return c.String(http.StatusOK, "already received\n")
	}
	key := workKey(fmt.Sprintf("vipps.webhook.%d", stored.ID), vp.OrderID)
	run, err := a.work.start(ctx, key, func(ctx context.Context) (any, error) { return nil, f.settleEvent(ctx, stored) })
	if err != nil {
		return c.String(http.StatusServiceUnavailable, "shutting down\n") // stored, not acted on: the repeat acts
	}
	timer := time.NewTimer(vippsWebhookAnswerWithin)
	defer timer.Stop()
	select {
	case <-run.done:
		if run.err != nil {
			return run.err // 500: not acted on; Vipps delivers it again
		}
	case <-timer.C:
		a.Log.Info("vipps webhook: answered before the event was acted on; it goes on", "reference", ev.Reference, "event", ev.Name)
	}
	return c.String(http.StatusOK, "ok\n")
}

// settleEvent acts on a stored event under the order's lock and marks it
// acted on. Status moves are compare-and-swaps (db.SetOrderStatus), so an
// event that comes late, twice, or after polling settled the order changes
// nothing a second time.
func (f *vippsFlow) settleEvent(ctx context.Context, e db.VippsWebhookEvent) error {
	a := f.a
	defer f.locks.Lock(e.OrderID)()
	o, err := a.Store.OrderByID(ctx, e.OrderID)
	if err != nil {
		return err
	}
	vp, err := a.Store.VippsPaymentByOrder(ctx, o.ID)
	if err != nil {
		return err
	}
	log := a.Log.With("order", o.PublicID, "event", e.Name)
	switch {
	case vp.Environment != f.env():
		log.Warn("vipps webhook: an event for a payment made in another Vipps environment; ignored")
	case !e.Success:
		log.Info("vipps webhook: an event that did not succeed; recorded")
	case o.Status == db.StatusPending:
		if err := f.settlePending(ctx, o, e, log); err != nil {
			return err
		}
	case e.Name == "CAPTURED" || e.Name == "REFUNDED" || e.Name == "CANCELLED":
		// Not settled when the refresh fails: the receiver answers 500, and
		// Vipps's repeat of the event (the only thing that would refresh the
		// figures of an operation made elsewhere) acts on it again.
		if err := f.otherOperation(ctx, o, vp, e, log); err != nil {
			return err
		}
	default:
		log.Info("vipps webhook: the order is settled already; nothing to change", "status", o.Status)
	}
	return a.Store.SetVippsWebhookEventSettled(ctx, e.ID)
}

// settlePending moves a pending order as its event says.
func (f *vippsFlow) settlePending(ctx context.Context, o db.Order, e db.VippsWebhookEvent, log *slog.Logger) error {
	a := f.a
	switch e.Name {
	case vipps.StateAuthorized:
		if e.Amount != o.TotalAmount || e.Currency != o.Currency {
			// Not this order's sum: the event alone is not enough to go on.
			log.Warn("vipps webhook: an authorization of another amount than the order's; left to polling",
				"amount", e.Amount, "currency", e.Currency)
			return nil
		}
		agg := vipps.Aggregate{AuthorizedAmount: vipps.Amount{Currency: e.Currency, Value: e.Amount}}
		if err := f.record(ctx, o.ID, vipps.StateAuthorized, "", agg); err != nil {
			return err
		}
		settled, err := f.authorized(ctx, o, agg)
		if err == nil && settled.Status != o.Status {
			log.Info("vipps webhook: settled the order", "status", settled.Status)
		}
		return err
	case vipps.StateAborted, vipps.StateExpired, vipps.StateTerminated:
		if err := a.Store.SetVippsState(ctx, o.ID, e.Name, "", 0); err != nil {
			return err
		}
		settled, err := f.move(ctx, o, db.StatusCancelled, vippsEnded[e.Name])
		if err == nil && settled.Status != o.Status {
			log.Info("vipps webhook: settled the order", "status", settled.Status)
		}
		return err
	case "CAPTURED", "REFUNDED", "CANCELLED":
		// Before its authorization reached the shop (Vipps keeps order only
		// for failed deliveries): the authorization, or polling, settles it.
		log.Info("vipps webhook: an operation on an order not yet authorized here; recorded, left to its authorization")
	}
	return nil
}

// otherOperation handles a capture, refund or cancel of a settled order:
// the back office records its own operations' answers; one it did not make
// (in Vipps's portal, say) refreshes the order's figures from the payment,
// or returns why it could not.
func (f *vippsFlow) otherOperation(ctx context.Context, o db.Order, vp db.VippsPayment, e db.VippsWebhookEvent, log *slog.Logger) error {
	a := f.a
	if e.IdempotencyKey != "" {
		own := e.IdempotencyKey == vp.CancelKey
		if ops, err := a.Store.OperationsByOrder(ctx, o.ID); err == nil {
			for _, op := range ops {
				own = own || op.Key == e.IdempotencyKey
			}
		}
		if own {
			return nil
		}
	}
	log.Info("vipps webhook: an operation the shop did not make; reading the payment")
	p, err := f.client.GetPayment(ctx, vp.Reference)
	if err == nil {
		err = f.record(ctx, o.ID, p.State, p.PSPReference, p.Aggregate)
	}
	if err == nil {
		err = f.operator().closeIfSettled(ctx, o.ID)
	}
	if err != nil {
		return fmt.Errorf("vipps webhook: refreshing the order's figures after %s: %w", e.Name, err)
	}
	return nil
}
