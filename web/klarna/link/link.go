// Package link keeps each user's Klarna account link: the customer_token
// Klarna returns on buy_and_link orders, sealed at rest, replaced when Klarna
// returns a different one (rotation, or a new link after the old token
// stopped working), kept when none comes back (the customer opted out), and
// forgotten when the user unlinks.
//
// The account-linking token is only ever sent in a payment session's
// customer.customer_token. Klarna documents no merchant call to read,
// charge or cancel it: the Customer Token API takes the token_id of a
// tokenize session, another kind of token
// (https://docs.klarna.com/payments/web-payments/additional-resources/use-cases/account-linking).
// So the keeper never asks Klarna about a token, and unlinking forgets it in
// the shop (the customer can end the link in the Klarna app).
//
// "Always treat the token from the latest response as the source of truth"
// (the same guide). Two orders for one user can finish at once; the answer
// the shop records last is the latest response it has, so Save stores it
// even when another answer was stored since Begin. If that was the older
// token (Klarna issued the other one later), the next session with it is
// not recognised, the customer logs in once, and that order's answer
// carries a new token, which Save stores: Klarna documents that "if the
// provided token is invalid or has been rotated, Klarna will return a new
// one". An Attempt remembers the link's version it read before the Klarna
// call, so an unlink in between is never overwritten by an order the
// unlinked token was recognised with. Callers never see the version.
package link

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"refshop/db"
	"refshop/web/secret"
)

// ErrNotLinked: the user has no Klarna link.
var ErrNotLinked = errors.New("link: not linked")

// Config is what a Keeper needs.
type Config struct {
	// Environment names the Klarna environment Client talks to (its API
	// base URL): the keeper reads and writes only the links made there, so
	// a token from another environment is never sent.
	Environment string
	Store       *db.Store
	Box         *secret.Box // seals the tokens at rest
	Log         *slog.Logger
}

// Keeper reads and writes users' Klarna links.
type Keeper struct{ cfg Config }

// New returns the link keeper.
func New(cfg Config) *Keeper {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Keeper{cfg: cfg}
}

// Status is a user's link as pages show it.
type Status struct {
	Linked      bool
	Masked      string // "••••" and the last four characters
	LinkedAt    time.Time
	RefreshedAt time.Time
}

func aad(userID int64) string { return fmt.Sprintf("user:%d:klarna_customer_token", userID) }

// Status reads the user's link without calling Klarna.
func (k *Keeper) Status(ctx context.Context, userID int64) (Status, error) {
	row, err := k.cfg.Store.KlarnaLink(ctx, k.cfg.Environment, userID)
	if err != nil {
		return Status{}, err
	}
	return Status{Linked: row.Linked(), Masked: row.Hint, LinkedAt: row.LinkedAt, RefreshedAt: row.RefreshedAt}, nil
}

// Attempt is one Klarna call made with (or for) a user's link: Begin reads
// the link before the call, Save stores the token from its answer, Forget
// drops a token Klarna says is dead. It remembers the version it read, so a
// write that lands in between is never overwritten blindly.
type Attempt struct {
	k       *Keeper
	userID  int64
	version int64
	token   secret.Secret
}

// Begin reads the user's link before a Klarna call whose answer Save stores.
func (k *Keeper) Begin(ctx context.Context, userID int64) (*Attempt, error) {
	row, err := k.cfg.Store.KlarnaLink(ctx, k.cfg.Environment, userID)
	if err != nil {
		return nil, err
	}
	a := &Attempt{k: k, userID: userID, version: row.Version}
	if !row.Linked() {
		return a, nil
	}
	if a.token, err = k.cfg.Box.Open(row.Sealed, aad(userID)); err != nil {
		return nil, fmt.Errorf("link: open stored token: %w", err)
	}
	return a, nil
}

// Token is the stored customer token; zero when the user is not linked.
func (a *Attempt) Token() secret.Secret { return a.token }

// maxSwaps bounds Save's compare-and-swap loop: each lost round means
// another write for the same user landed in between.
const maxSwaps = 10

// Save stores the token from the Klarna answer the attempt was for. A zero
// token (the customer opted out, or intent was not buy_and_link) keeps what
// is stored. When another write changed the link since Begin, this answer
// is the later one and is stored, except after an unlink: an order
// recognised by the token the user then unlinked does not link again (an
// order whose customer logged in and agreed to link does).
func (a *Attempt) Save(ctx context.Context, tok secret.Secret) error {
	if tok.IsZero() {
		return nil
	}
	cfg, userID, expect := a.k.cfg, a.userID, a.version
	for range maxSwaps {
		sealed, err := cfg.Box.Seal(tok.Reveal(), aad(userID))
		if err != nil {
			return err
		}
		_, err = cfg.Store.SwapKlarnaToken(ctx, cfg.Environment, userID, expect, sealed, secret.Mask(tok.Reveal()))
		if err == nil {
			a.logSaved(ctx, tok)
		}
		if !errors.Is(err, db.ErrStale) {
			return err
		}
		// Another request changed the link since we read it.
		row, err := cfg.Store.KlarnaLink(ctx, cfg.Environment, userID)
		if err != nil {
			return err
		}
		if !row.Linked() && !a.token.IsZero() {
			cfg.Log.InfoContext(ctx, "klarna: the user unlinked while an order recognised by the link ran; its token is not stored",
				"user_id", userID)
			return nil
		}
		expect = row.Version
	}
	return errors.New("link: the Klarna link kept changing; token not stored")
}

// logSaved tells the token's life at INFO, by tags (secret.Tag): a new
// link, a rotation, or the same token kept.
func (a *Attempt) logSaved(ctx context.Context, tok secret.Secret) {
	log, env := a.k.cfg.Log, a.k.cfg.Environment
	switch {
	case a.token.IsZero():
		log.InfoContext(ctx, "klarna: customer token stored: the account is linked", "user_id", a.userID,
			"environment", env, "customer_token", tok.Tag())
	case a.token.Reveal() != tok.Reveal():
		log.InfoContext(ctx, "klarna: customer token rotated: Klarna answered with a new one, which replaces the old",
			"user_id", a.userID, "environment", env, "old_customer_token", a.token.Tag(), "customer_token", tok.Tag())
	default:
		log.DebugContext(ctx, "klarna: customer token unchanged", "user_id", a.userID, "customer_token", tok.Tag())
	}
}

// Unlink forgets the user's token. Klarna documents no merchant call to
// cancel an account-linking token, so none is made: the shop stops sending
// it, and the widget asks the customer to log in next time.
func (k *Keeper) Unlink(ctx context.Context, userID int64) error {
	a, err := k.Begin(ctx, userID)
	if err != nil {
		return err
	}
	if a.token.IsZero() {
		return ErrNotLinked
	}
	// An order may have stored a new token meanwhile; that token is the one
	// the account page now shows, and the user can unlink it too.
	return a.Forget(ctx)
}

// Forget drops the token the attempt read, if it is still the one stored.
// (The keeper does not ask Klarna about a token before a session carries
// it: Klarna documents no call to read an account-linking token, and one it
// no longer accepts only brings back its login; the order's answer then
// carries a new one, which Save stores.)
func (a *Attempt) Forget(ctx context.Context) error {
	err := a.k.cfg.Store.ClearKlarnaToken(ctx, a.k.cfg.Environment, a.userID, a.version)
	if errors.Is(err, db.ErrStale) {
		return nil
	}
	if err == nil {
		a.k.cfg.Log.InfoContext(ctx, "klarna: customer token forgotten", "user_id", a.userID,
			"environment", a.k.cfg.Environment, "customer_token", a.token.Tag())
	}
	return err
}
