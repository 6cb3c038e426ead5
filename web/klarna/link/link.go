// Package link keeps each user's Klarna account link: the customer_token
// Klarna returns on buy_and_link orders, sealed at rest, replaced when Klarna
// returns a different one (rotation, or a new link after the old token
// stopped working), kept when none comes back (the customer opted out), and
// cancelled at Klarna when the user unlinks.
//
// Why a compare-and-swap: "always treat the token from the latest response
// as the source of truth"
// (https://docs.klarna.com/payments/web-payments/additional-resources/use-cases/account-linking),
// and two orders for one user can finish at once, their answers arriving in
// either order, so a plain overwrite could leave the older token stored. An
// Attempt remembers the link's version it read before the Klarna call, and
// its Save stores the answer's token only while that version is current;
// when another write won, Klarna is asked which token still works. Callers
// never see the version.
package link

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"refshop/db"
	"refshop/web/klarna"
	"refshop/web/secret"
)

// ErrNotLinked: the user has no Klarna link.
var ErrNotLinked = errors.New("link: not linked")

// Config is what a Keeper needs.
type Config struct {
	Client *klarna.Client // reads and cancels customer tokens
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
// another order for the same user finished in between, and a writer whose
// own token is already dead stops, so a few rounds settle any real race.
const maxSwaps = 10

// Save stores the token from the Klarna answer the attempt was for. A zero
// token (the customer opted out, or intent was not buy_and_link) keeps what
// is stored. When another write changed the link since Begin, the stored
// token is kept if Klarna says it is still active (it came from the later
// answer) and replaced if it is not.
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
		if !errors.Is(err, db.ErrStale) {
			return err
		}
		// Another request changed the link since we read it.
		row, err := cfg.Store.KlarnaLink(ctx, cfg.Environment, userID)
		if err != nil {
			return err
		}
		if !row.Linked() {
			// The user unlinked while this order ran. Klarna only returns a
			// token for a link the customer agreed to in the widget (an
			// unlinked token recognises no one and returns none), so this
			// answer is the latest word: store it.
			expect = row.Version
			continue
		}
		stored, err := cfg.Box.Open(row.Sealed, aad(userID))
		if err != nil {
			return err
		}
		if stored.Reveal() == tok.Reveal() {
			return nil
		}
		info, err := cfg.Client.ReadCustomerToken(ctx, stored)
		switch {
		case err == nil && info.Active():
			// The stored token still works: it came from the later answer.
			return nil
		case err != nil && !klarna.TokenGone(err):
			// Klarna cannot tell us now. The stored token is the later
			// write; keep it rather than guess.
			cfg.Log.WarnContext(ctx, "klarna token race unresolved, kept the stored token", "user_id", userID,
				"correlation_id", klarna.CorrelationID(err))
			return nil
		}
		// The stored token is dead. If ours is dead too, a later answer
		// exists and its own request stores it; otherwise ours is the newer.
		mine, err := cfg.Client.ReadCustomerToken(ctx, tok)
		if (err == nil && !mine.Active()) || klarna.TokenGone(err) {
			return nil
		}
		expect = row.Version
	}
	return errors.New("link: the Klarna link kept changing; token not stored")
}

// Unlink cancels the user's token at Klarna (PATCH status CANCELLED) and
// then forgets it. A token Klarna no longer knows or already cancelled is
// forgotten too. Any other Klarna error leaves the link as it was (nothing
// is lost: the user can try again).
func (k *Keeper) Unlink(ctx context.Context, userID int64) error {
	a, err := k.Begin(ctx, userID)
	if err != nil {
		return err
	}
	if a.token.IsZero() {
		return ErrNotLinked
	}
	key := klarna.IdempotencyKey(fmt.Sprintf("user:%d:klarna_link:v%d", userID, a.version), "customer_token_status")
	if err := k.cfg.Client.CancelCustomerToken(ctx, a.token, key); err != nil && !klarna.TokenGone(err) {
		return err
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
	return err
}
