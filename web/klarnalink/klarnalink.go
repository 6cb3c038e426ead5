// Package klarnalink keeps each user's Klarna account link: the
// customer_token Klarna returns on buy_and_link orders, sealed at rest,
// replaced when Klarna returns a different one (rotation, or a new link after
// the old token stopped working), kept when none comes back (the customer
// opted out), and cancelled at Klarna when the user unlinks.
//
// "Always treat the token from the latest response as the source of truth"
// (Klarna's account-linking guide). Two orders for one user can finish at
// once, their answers arriving in either order, so a plain overwrite could
// leave the older token stored. Save is a compare-and-swap on the link's
// version read before the Klarna call; when another write won, the stored
// token is kept if Klarna says it is still active (it came from the later
// answer) and replaced if it is not.
package klarnalink

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

// Linker reads and writes users' Klarna links.
type Linker struct {
	Store  *db.Store
	Box    *secret.Box
	Klarna *klarna.Client
	Log    *slog.Logger
}

// Link is a user's link as pages show it.
type Link struct {
	Linked      bool
	Masked      string // "••••" and the last four characters
	LinkedAt    time.Time
	RefreshedAt time.Time
}

func aad(userID int64) string { return fmt.Sprintf("user:%d:klarna_customer_token", userID) }

// Status returns what the account page shows.
func (l *Linker) Status(ctx context.Context, userID int64) (Link, error) {
	row, err := l.Store.KlarnaLink(ctx, userID)
	if err != nil {
		return Link{}, err
	}
	return Link{Linked: row.Linked(), Masked: row.Hint, LinkedAt: row.LinkedAt, RefreshedAt: row.RefreshedAt}, nil
}

// Current returns the stored token (zero when not linked) and the link's
// version. Read the version before the Klarna call whose answer Save stores.
func (l *Linker) Current(ctx context.Context, userID int64) (secret.Secret, int64, error) {
	row, err := l.Store.KlarnaLink(ctx, userID)
	if err != nil || !row.Linked() {
		return secret.Secret{}, row.Version, err
	}
	tok, err := l.Box.Open(row.Sealed, aad(userID))
	if err != nil {
		return secret.Secret{}, row.Version, fmt.Errorf("klarnalink: open stored token: %w", err)
	}
	return tok, row.Version, nil
}

// maxSwaps bounds Save's compare-and-swap loop: each lost round means
// another order for the same user finished in between, and a writer whose
// own token is already dead stops, so a few rounds settle any real race.
const maxSwaps = 10

// Save stores the token from a Klarna answer for the user. seen is the
// link's version read before the call that produced the answer. A zero
// token (the customer opted out, or intent was not buy_and_link) keeps what
// is stored.
func (l *Linker) Save(ctx context.Context, userID, seen int64, tok secret.Secret) error {
	if tok.IsZero() {
		return nil
	}
	expect := seen
	for range maxSwaps {
		sealed, err := l.Box.Seal(tok.Reveal(), aad(userID))
		if err != nil {
			return err
		}
		_, err = l.Store.SwapKlarnaToken(ctx, userID, expect, sealed, secret.Mask(tok.Reveal()))
		if !errors.Is(err, db.ErrStale) {
			return err
		}
		// Another request changed the link since we read it.
		row, err := l.Store.KlarnaLink(ctx, userID)
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
		stored, err := l.Box.Open(row.Sealed, aad(userID))
		if err != nil {
			return err
		}
		if stored.Reveal() == tok.Reveal() {
			return nil
		}
		info, err := l.Klarna.ReadCustomerToken(ctx, stored)
		switch {
		case err == nil && info.Active():
			// The stored token still works: it came from the later answer.
			return nil
		case err != nil && !klarna.TokenGone(err):
			// Klarna cannot tell us now. The stored token is the later
			// write; keep it rather than guess.
			l.Log.WarnContext(ctx, "klarna token race unresolved, kept the stored token", "user_id", userID,
				"correlation_id", klarna.CorrelationID(err))
			return nil
		}
		// The stored token is dead. If ours is dead too, a later answer
		// exists and its own request stores it; otherwise ours is the newer.
		mine, err := l.Klarna.ReadCustomerToken(ctx, tok)
		if (err == nil && !mine.Active()) || klarna.TokenGone(err) {
			return nil
		}
		expect = row.Version
	}
	return errors.New("klarnalink: the Klarna link kept changing; token not stored")
}

// ErrNotLinked: the user has no Klarna link.
var ErrNotLinked = errors.New("klarnalink: not linked")

// Unlink cancels the user's token at Klarna (PATCH status CANCELLED) and
// then forgets it. A token Klarna no longer knows or already cancelled is
// forgotten too. Any other Klarna error leaves the link as it was (nothing
// is lost: the user can try again).
func (l *Linker) Unlink(ctx context.Context, userID int64) error {
	tok, version, err := l.Current(ctx, userID)
	if err != nil {
		return err
	}
	if tok.IsZero() {
		return ErrNotLinked
	}
	key := klarna.IdempotencyKey(fmt.Sprintf("user:%d:klarna_link:v%d", userID, version), "customer_token_status")
	if err := l.Klarna.CancelCustomerToken(ctx, tok, key); err != nil && !klarna.TokenGone(err) {
		return err
	}
	if err := l.Store.ClearKlarnaToken(ctx, userID, version); err != nil && !errors.Is(err, db.ErrStale) {
		return err
	}
	// ErrStale: an order stored a new token meanwhile; that token is the
	// one the account page now shows, and the user can unlink it too.
	return nil
}

// Forget drops a stored token Klarna says is dead (unknown or cancelled),
// if it is still the one stored.
func (l *Linker) Forget(ctx context.Context, userID, version int64) error {
	err := l.Store.ClearKlarnaToken(ctx, userID, version)
	if errors.Is(err, db.ErrStale) {
		return nil
	}
	return err
}
