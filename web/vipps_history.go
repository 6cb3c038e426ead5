package web

import (
	"context"
	"slices"

	"refshop/db"
)

// vippsHistoryEntry is one event of a payment: from the event log Vipps
// last reported (GET .../events, stored by refreshEvents), from a webhook
// delivery, or both. Webhook marks those a delivery brought.
type vippsHistoryEntry struct {
	db.VippsEvent
	Webhook bool
}

// history is the payment's events for the order page and the back office:
// the stored event log, with the webhook events merged in, oldest first. A
// webhook event that is also in the log (the same name, time and amount)
// marks that entry instead of adding one.
func (f *vippsFlow) history(ctx context.Context, orderID int64) ([]vippsHistoryEntry, error) {
	logged, err := f.a.Store.VippsEvents(ctx, orderID)
	if err != nil {
		return nil, err
	}
	hooked, err := f.a.Store.VippsWebhookEvents(ctx, orderID)
	if err != nil {
		return nil, err
	}
	out := make([]vippsHistoryEntry, 0, len(logged)+len(hooked))
	for _, e := range logged {
		out = append(out, vippsHistoryEntry{VippsEvent: e})
	}
	for _, h := range hooked {
		i := slices.IndexFunc(out, func(e vippsHistoryEntry) bool {
			return !e.Webhook && e.Name == h.Name && e.Amount == h.Amount && e.OccurredAt.Equal(h.OccurredAt)
		})
		if i >= 0 {
			out[i].Webhook = true
			continue
		}
		out = append(out, vippsHistoryEntry{Webhook: true, VippsEvent: db.VippsEvent{Name: h.Name, Currency: h.Currency,
			Amount: h.Amount, OccurredAt: h.OccurredAt, IdempotencyKey: h.IdempotencyKey, Success: h.Success}})
	}
	slices.SortStableFunc(out, func(a, b vippsHistoryEntry) int { return a.OccurredAt.Compare(b.OccurredAt) })
	return out, nil
}
