package web

// The shop's Vipps MobilePay webhook registration (the Webhooks API,
// web/vipps/doc.go "Webhooks"): one registration of ShopBaseURL +
// /webhooks/vipps for the eight ePayment events, per Vipps environment,
// whatever the number of shop instances on the database.
//
//   - In sandbox mode the shop keeps it from the start as it keeps every
//     provider's registration (webhooks.go: at start, every
//     webhookCheckEvery, and at once after a sandbox reset).
//   - In real mode nothing is registered at start: `go run ./cmd/shop
//     vipps-webhook register` does the same find-or-register once.
//
// Find-or-register (VippsWebhooks.Ensure): the row in vipps_webhooks is the
// claim. A stored registration that Vipps still lists, and whose sealed
// secret opens, is used as it is. One Vipps no longer lists (deleted, or
// removed after two weeks unanswered), or whose secret the shop cannot
// open, is taken over (a compare-and-swap on the row's claim) and made
// anew. With no row, the instance whose insert makes it registers; the
// others wait for it. Registering first deletes every registration of the
// URL Vipps lists: the shop holds none of their secrets (the secret is
// shown once), so their deliveries could never be checked.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"refshop/db"
	"refshop/web/clock"
	"refshop/web/config"
	"refshop/web/outbound"
	"refshop/web/secret"
	"refshop/web/vipps"
)

const (
	// vippsWebhookPath is where Vipps posts the events (routes.go).
	vippsWebhookPath = "/webhooks/vipps"
	// vippsWebhookClaimTTL is how long an unfinished claim holds off the
	// other instances: longer than a list, deletes and a register take.
	vippsWebhookClaimTTL = 5 * time.Minute
	// vippsWebhookWait is how long an instance waits between looks at a
	// registration another instance is making.
	vippsWebhookWait = 2 * time.Second
)

// VippsWebhooks finds or makes the shop's webhook registration, and holds
// what the receiver checks deliveries with. cmd/shop's vipps-webhook
// command uses it too.
type VippsWebhooks struct {
	store  *db.Store
	box    *secret.Box
	client *vipps.Client
	log    *slog.Logger
	clock  clock.Clock
	env    string // the Vipps API the registration is made at
	url    string // ShopBaseURL + vippsWebhookPath
	claim  string // this instance's claim token
	// sleep waits between looks at another instance's registration; tests
	// replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// NewVippsWebhooks is the registration of the shop d configures, through
// d.Vipps (WithProviderClients).
func NewVippsWebhooks(d Deps) *VippsWebhooks {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	clk := d.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	return &VippsWebhooks{store: d.Store, box: d.Box, client: d.Vipps, log: d.Log, clock: clk,
		env: environment(d.Config.Vipps.APIURL), url: d.Config.ShopBaseURL + vippsWebhookPath,
		claim: hex.EncodeToString(b), sleep: outbound.Sleep}
}

// URL is the webhook URL the shop registers.
func (w *VippsWebhooks) URL() string { return w.url }

// keeper is how RunBackground keeps the registration (webhooks.go).
func (w *VippsWebhooks) keeper(mode config.Mode) *webhookKeeper {
	return newWebhookKeeper("vipps webhook", "vipps-webhook", mode, w.url, w.Ensure, w.held)
}

// held reports whether the shop stores a registration.
func (w *VippsWebhooks) held(ctx context.Context) (bool, error) {
	row, err := w.store.VippsWebhookByURL(ctx, w.env, w.url)
	if errors.Is(err, db.ErrNotFound) {
		return false, nil
	}
	return err == nil && row.Registered(), err
}

// secretAAD binds a sealed secret to its row.
func (w *VippsWebhooks) secretAAD() string { return "vipps_webhook:" + w.env + ":" + w.url }

// Ensure finds the shop's registration or makes it, and returns its id.
// made reports whether this call registered it.
func (w *VippsWebhooks) Ensure(ctx context.Context) (id string, made bool, err error) {
	for {
		row, err := w.store.VippsWebhookByURL(ctx, w.env, w.url)
		switch {
		case errors.Is(err, db.ErrNotFound):
			claimed, err := w.store.ClaimVippsWebhook(ctx, w.env, w.url, w.claim)
			if err != nil {
				return "", false, err
			}
			if claimed {
				id, err := w.register(ctx)
				return id, err == nil, err
			}
			continue // another instance's claim: look at it
		case err != nil:
			return "", false, err
		case row.Registered():
			hooks, err := w.client.ListWebhooks(ctx)
			if err != nil {
				return "", false, err
			}
			why := w.unusable(row, hooks)
			if why == "" {
				w.deleteOthers(ctx, hooks, row.WebhookID)
				return row.WebhookID, false, nil
			}
			w.log.Info("vipps webhook: registering anew", "url", w.url, "webhook", row.WebhookID, "because", why)
		case row.Claim != w.claim && w.clock.Now().Sub(row.ClaimedAt) < vippsWebhookClaimTTL:
			// Another instance is registering: wait for its row.
			if err := w.sleep(ctx, vippsWebhookWait); err != nil {
				return "", false, err
			}
			continue
		default:
			// This instance's own unfinished claim (an earlier try failed),
			// or one whose instance stopped before it registered.
		}
		if err := w.store.ReclaimVippsWebhook(ctx, w.env, w.url, row.Claim, w.claim); errors.Is(err, db.ErrStale) {
			continue // another instance took it over first
		} else if err != nil {
			return "", false, err
		}
		id, err := w.register(ctx)
		return id, err == nil, err
	}
}

// unusable says why the stored registration row cannot be used ("": it
// can): Vipps no longer lists it for the URL and all eight events, or its
// secret does not open.
func (w *VippsWebhooks) unusable(row db.VippsWebhook, hooks []vipps.Webhook) string {
	i := slices.IndexFunc(hooks, func(h vipps.Webhook) bool { return h.ID == row.WebhookID })
	switch {
	case i < 0:
		return "Vipps no longer lists it"
	case hooks[i].URL != w.url:
		return "Vipps lists it for another URL"
	}
	for _, ev := range vipps.PaymentEvents {
		if !slices.Contains(hooks[i].Events, ev) {
			return "it lacks " + ev
		}
	}
	if _, err := w.box.Open(row.Secret, w.secretAAD()); err != nil {
		return "its stored secret does not open"
	}
	return ""
}

// register makes the registration under this instance's claim and stores
// it, sealed. Registrations of the URL already at Vipps are deleted first.
func (w *VippsWebhooks) register(ctx context.Context) (string, error) {
	hooks, err := w.client.ListWebhooks(ctx)
	if err != nil {
		return "", err
	}
	if err := w.deleteOthers(ctx, hooks, ""); err != nil {
		return "", err
	}
	reg, err := w.client.RegisterWebhook(ctx, w.url, vipps.PaymentEvents)
	if err != nil {
		return "", err
	}
	sealed, err := w.box.Seal(reg.Secret.Reveal(), w.secretAAD())
	if err == nil {
		err = w.store.SetVippsWebhook(ctx, w.env, w.url, w.claim, reg.ID, sealed)
	}
	if err != nil {
		// Not stored (taken over meanwhile, or the database failed): its
		// secret is lost with this call, so it must not stay at Vipps.
		if derr := w.client.DeleteWebhook(ctx, reg.ID); derr != nil {
			w.log.Warn("vipps webhook: deleting a registration the shop could not store", "webhook", reg.ID, "error", derr)
		}
		return "", fmt.Errorf("vipps webhook: storing the registration: %w", err)
	}
	return reg.ID, nil
}

// deleteOthers deletes the registrations of the shop's URL but keep: the
// shop holds none of their secrets. Only the last error is returned.
func (w *VippsWebhooks) deleteOthers(ctx context.Context, hooks []vipps.Webhook, keep string) error {
	var last error
	for _, h := range hooks {
		if h.URL != w.url || h.ID == keep {
			continue
		}
		w.log.Info("vipps webhook: deleting a registration of the shop's URL whose secret it does not hold", "webhook", h.ID)
		if err := w.client.DeleteWebhook(ctx, h.ID); err != nil && !vipps.IsKind(err, vipps.KindNotFound) {
			last = err
		}
	}
	return last
}

// List is every registration of the sales unit at Vipps.
func (w *VippsWebhooks) List(ctx context.Context) ([]vipps.Webhook, error) {
	return w.client.ListWebhooks(ctx)
}

// Delete deletes registration id at Vipps, and the shop's row when it
// holds that registration.
func (w *VippsWebhooks) Delete(ctx context.Context, id string) error {
	if err := w.client.DeleteWebhook(ctx, id); err != nil && !vipps.IsKind(err, vipps.KindNotFound) {
		return err
	}
	return w.store.DeleteVippsWebhook(ctx, w.env, id)
}

// current is the stored registration with its secret, for checking a
// delivery. db.ErrNotFound: none is stored (yet).
func (w *VippsWebhooks) current(ctx context.Context) (db.VippsWebhook, secret.Secret, error) {
	row, err := w.store.VippsWebhookByURL(ctx, w.env, w.url)
	if err == nil && !row.Registered() {
		err = db.ErrNotFound
	}
	if err != nil {
		return row, secret.Secret{}, err
	}
	sec, err := w.box.Open(row.Secret, w.secretAAD())
	return row, sec, err
}
