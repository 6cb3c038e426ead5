package web

// Keeping the shop's webhook registrations at its providers: Vipps
// MobilePay's (VippsWebhooks, vipps_webhook.go) and Alternative Payments'
// (AltpayWebhooks, altpay_webhook.go). Klarna needs none: its callback URLs
// go with each session and order (klarna_callbacks.go).
//
// Both are kept the same way, by one loop (keepRegistered), when
// Deps.SubscribeAtStart says so (cmd/shop sets it; tests make their
// registrations themselves, so RunBackground in a test calls no Webhooks
// API):
//
//   - In sandbox mode RunBackground makes sure of the registration at start,
//     without holding up serving, retrying with backoff while the sandbox
//     does not answer; again every webhookCheckEvery; and at once when
//     RecheckWebhooks says the sandbox was reset, which forgets every
//     registration.
//   - In real mode nothing is registered at start: a person runs the flow's
//     command (`go run ./cmd/shop vipps-webhook register`, `... altpay-webhook
//     register`) once, and the log says which when none is stored.

import (
	"context"
	"time"

	"refshop/web/config"
	"refshop/web/outbound"
)

const (
	// webhookCheckEvery is how often sandbox mode checks that a
	// registration is still there: a reset of a sandbox run apart
	// (SANDBOX_URL) forgets it without telling the shop.
	webhookCheckEvery = 10 * time.Minute
	// webhookMaxBackoff caps the wait between tries while the provider
	// does not answer (1 s, 2 s, 4 s, ... up to it).
	webhookMaxBackoff = time.Minute
)

// webhookKeeper is one flow's registration as RunBackground keeps it.
type webhookKeeper struct {
	name    string      // "vipps webhook": its log lines' prefix and its ticker's name (Deps.Tick)
	command string      // the cmd/shop command that registers it in real mode: "vipps-webhook"
	mode    config.Mode // the provider's
	url     string      // the shop's URL it registers
	// ensure finds the shop's registration at the provider or makes it;
	// made reports whether this call made it.
	ensure func(ctx context.Context) (id string, made bool, err error)
	// held reports whether the shop stores a registration (real mode's
	// log).
	held func(ctx context.Context) (bool, error)
	// recheck asks for a check at once (RecheckWebhooks).
	recheck chan struct{}
	// sleep waits between tries; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

func newWebhookKeeper(name, command string, mode config.Mode, url string,
	ensure func(context.Context) (string, bool, error), held func(context.Context) (bool, error)) *webhookKeeper {
	return &webhookKeeper{name: name, command: command, mode: mode, url: url, ensure: ensure, held: held,
		recheck: make(chan struct{}, 1), sleep: outbound.Sleep}
}

// webhookKeepers are the flows' registrations, one each.
func (a *App) webhookKeepers() []*webhookKeeper {
	return []*webhookKeeper{a.vipps.keeper, a.altpay.keeper}
}

// keepWebhook is RunBackground's part for one registration: see the top of
// this file. It returns when ctx ends, or at once when there is nothing to
// keep.
func (a *App) keepWebhook(ctx context.Context, k *webhookKeeper) {
	switch {
	case !a.SubscribeAtStart:
	case k.mode == config.Sandbox:
		a.keepRegistered(ctx, k)
	default:
		held, err := k.held(ctx)
		if err == nil && !held {
			a.Log.Info(k.name+": none registered; polling settles the orders (register one with: go run ./cmd/shop "+k.command+" register)",
				"url", k.url)
		}
	}
}

// keepRegistered makes sure of k's registration now, every
// webhookCheckEvery and whenever RecheckWebhooks says so, retrying with
// backoff while the provider does not answer, until ctx ends. Of several
// shop instances on one database one keeps it (the lease of the sweep named
// k.name, sweep.go); a recheck runs at the instance asked, whose embedded
// sandbox was reset.
func (a *App) keepRegistered(ctx context.Context, k *webhookKeeper) {
	a.everyOr(ctx, k.name, webhookCheckEvery, k.recheck, func(ctx context.Context) { a.ensureRegistered(ctx, k) })
}

// ensureRegistered makes sure of k's registration, trying until it is in
// place or ctx ends.
func (a *App) ensureRegistered(ctx context.Context, k *webhookKeeper) {
	for try := 1; ; try++ {
		id, made, err := k.ensure(ctx)
		if err == nil {
			if made {
				a.Log.Info(k.name+": registered", "url", k.url, "id", id)
			} else {
				a.Log.Debug(k.name+": registration in place", "url", k.url, "id", id)
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		wait := min(time.Second<<min(try-1, 6), webhookMaxBackoff)
		a.Log.Warn(k.name+": registering failed; trying again", "url", k.url, "try", try, "after", wait, "error", err)
		if err := k.sleep(ctx, wait); err != nil {
			return
		}
	}
}

// RecheckWebhooks makes sandbox mode check every registration at once:
// cmd/shop calls it when the embedded sandbox is reset, which forgets them
// all. It never waits.
func (a *App) RecheckWebhooks() {
	for _, k := range a.webhookKeepers() {
		select {
		case k.recheck <- struct{}{}:
		default: // a check is already due
		}
	}
}
