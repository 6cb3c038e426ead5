// Package grants keeps each account's Sign in with Klarna grant (the
// identity, the sealed refresh token and the current access token) in the
// shop's database, and hands out a fresh access token for Klarna Payments
// (customer.klarna_access_token).
//
// Why a compare-and-swap: a Klarna refresh token works once (the refresh
// answer carries the next one:
// https://docs.klarna.com/sign-in-with-klarna/additional-resources/other-operations),
// and sending a used one again is expected to revoke the whole grant. So a
// refresh must happen once however many callers find the access token
// expired at the same moment (two tabs, fifty checkout requests, two shop
// processes on one database), and the rotated token must replace the used
// one atomically. Keeper says how.
package grants

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"golang.org/x/sync/singleflight"

	"refshop/db"
	"refshop/web/clock"
	"refshop/web/klarnasignin"
	"refshop/web/outbound"
	"refshop/web/secret"
)

var (
	// ErrNotConnected: the account has no Klarna identity (or no grant).
	ErrNotConnected = errors.New("grants: account not connected to Klarna")
	// ErrSignInAgain: Klarna ended the grant (or the shop cannot use it any
	// more); only a new Sign in with Klarna helps. Never retried.
	ErrSignInAgain = errors.New("grants: the grant ended; sign in with Klarna again")
	// ErrRevoke: Klarna did not confirm the revocation; nothing was deleted,
	// the customer may try again.
	ErrRevoke = errors.New("grants: Klarna did not confirm the revocation")
)

// Config is what a Keeper needs; zero durations and clocks take the defaults.
type Config struct {
	Client *klarnasignin.Client // refreshes and revokes
	// Issuer names the Klarna environment and region Client signs in with
	// (its OIDC issuer URL; default the client's): the keeper reads and
	// writes only the identities and grants made there, so a grant is
	// refreshed and revoked only at the issuer that made it, and never sent
	// to another environment or region.
	Issuer string
	Store  *db.Store
	Box    *secret.Box // seals the tokens at rest
	Log    *slog.Logger
	// Clock is the provider's time, which token lifetimes run on. Default:
	// the client's.
	Clock clock.Clock
	// Wall is the clock leases run on. Default the wall clock.
	Wall clock.Clock
	// Lease bounds one refresh: the call is abandoned before it ends, and
	// other processes wait this long for it. Default 30s.
	Lease time.Duration
	// Claim is how long a claimed refresh may take to record that it is
	// about to send the refresh token (a database write away). A claim that
	// runs out without it is taken over: its holder died without sending
	// the token. Default 2s.
	Claim time.Duration
	// Poll is how often a process waiting for another's refresh reads the
	// row. Default 50ms.
	Poll time.Duration
	// Margin: an access token with less than this left is refreshed, so it
	// still works when the payment widget loads. Default 30s.
	Margin time.Duration
}

// Keeper keeps the accounts' grants. A refresh happens once:
//
//  1. In one process, singleflight collapses the callers for one account into
//     one flight; they all get its result.
//  2. Across processes the database decides. A flight that finds the access
//     token expired claims the refresh with a compare-and-swap on the grant's
//     version that also sets a short lease (lease_owner, lease_until: Claim)
//     and succeeds only when no lease is held. Exactly one claimant wins. The
//     others poll the row (every Poll) until the version moves on, and use
//     the access token the winner stored.
//  3. The winner records that it is about to send the refresh token
//     (lease_sending, in a compare-and-swap on its lease that also runs it
//     to Lease), sends it once, then stores the new refresh token and access
//     token and ends the lease in one compare-and-swap on (version, lease
//     owner). A grant replaced or disconnected meanwhile is not overwritten;
//     the orphaned new token is revoked.
//  4. The same refresh token is never sent twice. When the outcome is unknown
//     (a timeout after sending, a 502/504, an unreadable 200) the token may
//     be spent, so the grant is marked dead instead of sent again; a sending
//     lease that runs out means its holder died mid-call: same. A claim that
//     runs out before it was sending never spent the token: the next caller
//     takes it over at once, and its holder, if alive after all, finds it
//     cannot record sending and does not send. Only errors that prove the
//     token unused (connection refused, 500, 503) are retried or leave the
//     grant for the next caller.
//  5. invalid_grant (400) and token_inactive (401) mark the grant dead at
//     once; the customer is asked to sign in with Klarna again. Never retried.
//  6. A refresh answer whose ID token does not verify (another key,
//     issuer, audience or sub: OpenID Connect Core 12.2) is not stored:
//     Klarna spent the old refresh token, the client revoked the new one,
//     so the grant is marked dead and the customer asked to sign in again.
//
// Token lifetimes run on the provider's clock (the sandbox clock in sandbox
// mode, so moving it ages the shop's tokens too); leases on the wall clock,
// so moving the sandbox clock never breaks a refresh in progress.
type Keeper struct {
	cfg   Config
	owner string // names this process's leases
	sf    singleflight.Group
}

// New returns the grant keeper.
func New(cfg Config) *Keeper {
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Claim <= 0 {
		cfg.Claim = 2 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	if cfg.Margin <= 0 {
		cfg.Margin = 30 * time.Second
	}
	if cfg.Wall == nil {
		cfg.Wall = clock.Real{}
	}
	if cfg.Clock == nil {
		cfg.Clock = cfg.Client.Clock()
	}
	if cfg.Issuer == "" {
		cfg.Issuer = cfg.Client.Issuer()
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Keeper{cfg: cfg, owner: "shop-" + rand.Text()}
}

func aad(userID int64, what string) string {
	return "user:" + strconv.FormatInt(userID, 10) + ":klarna_" + what
}

// Seal returns a db.SealFunc that seals t for the account it is stored
// under: the refresh token with its expiry (60 days from now), the access
// token with its own.
func (g *Keeper) Seal(t klarnasignin.Tokens) db.SealFunc {
	return func(userID int64) (db.KlarnaTokens, error) {
		return g.seal(userID, t, g.cfg.Clock.Now().Add(klarnasignin.RefreshTokenTTL))
	}
}

func (g *Keeper) seal(userID int64, t klarnasignin.Tokens, refreshExpires time.Time) (db.KlarnaTokens, error) {
	out := db.KlarnaTokens{AccessExpires: t.AccessExpires, Scope: t.Scope}
	var err error
	if !t.RefreshToken.IsZero() {
		if out.RefreshToken, err = g.cfg.Box.Seal(t.RefreshToken.Reveal(), aad(userID, "refresh_token")); err != nil {
			return db.KlarnaTokens{}, err
		}
		out.RefreshExpires = refreshExpires
	}
	if out.AccessToken, err = g.cfg.Box.Seal(t.AccessToken.Reveal(), aad(userID, "access_token")); err != nil {
		return db.KlarnaTokens{}, err
	}
	return out, nil
}

// Connect stores a new grant for the account (a sign-in or "Connect
// Klarna") and revokes the grant it replaces, if any. Errors from the store
// (db.ErrKlarnaTaken, db.ErrKlarnaConnected) are returned as they are.
func (g *Keeper) Connect(ctx context.Context, userID int64, id klarnasignin.Identity, t klarnasignin.Tokens) error {
	ctx = outbound.WithUser(ctx, userID) // Klarna calls are recorded under the account
	prev, err := g.cfg.Store.ConnectKlarna(ctx, userID, db.KlarnaIdentity{Issuer: g.cfg.Issuer, Sub: id.Sub, Email: id.Email, Name: id.Name()}, g.Seal(t))
	if err != nil {
		return err
	}
	g.revokeStored(ctx, userID, prev)
	return nil
}

// revokeStored revokes a replaced grant's refresh token, best effort: the
// new grant is already stored, and an unrevoked old token only lives out its
// 60 days unused.
func (g *Keeper) revokeStored(ctx context.Context, userID int64, prev db.KlarnaGrant) {
	if prev.RefreshToken == "" {
		return
	}
	rt, err := g.cfg.Box.Open(prev.RefreshToken, aad(userID, "refresh_token"))
	if err == nil {
		err = g.cfg.Client.Revoke(ctx, rt)
	}
	if err != nil {
		g.cfg.Log.Warn("klarnasignin: revoking a replaced grant", "user_id", userID, "error", err)
	}
}

// Status is an account's connection as the account page shows it.
type Status struct {
	Connected bool
	Identity  db.KlarnaIdentity
	// SignInAgain: Klarna ended the grant (or granted no refresh token); the
	// customer must sign in with Klarna again to be recognised at checkout.
	SignInAgain bool
}

// Status reads the account's connection without calling Klarna.
func (g *Keeper) Status(ctx context.Context, userID int64) (Status, error) {
	id, err := g.cfg.Store.KlarnaIdentityByUser(ctx, g.cfg.Issuer, userID)
	if errors.Is(err, db.ErrNotFound) {
		return Status{}, nil
	}
	if err != nil {
		return Status{}, err
	}
	st := Status{Connected: true, Identity: id}
	gr, err := g.cfg.Store.KlarnaGrant(ctx, g.cfg.Issuer, userID)
	switch {
	case errors.Is(err, db.ErrNotFound):
		st.SignInAgain = true
	case err != nil:
		return Status{}, err
	default:
		st.SignInAgain = gr.Dead()
	}
	return st, nil
}

// AccessToken returns a valid access token for the account, refreshing it
// when it has expired (or has less than Margin left). ErrNotConnected: no
// grant; ErrSignInAgain: Klarna ended the grant. Any other error means no
// token this time (the grant is kept): the checkout goes on without one.
func (g *Keeper) AccessToken(ctx context.Context, userID int64) (secret.Secret, error) {
	ctx = outbound.WithUser(ctx, userID)
	ch := g.sf.DoChan(strconv.FormatInt(userID, 10), func() (any, error) {
		// The flight outlives a caller that gives up: a refresh cut off
		// midway would leave its outcome unknown and cost the grant.
		return g.fresh(context.WithoutCancel(ctx), userID)
	})
	select {
	case <-ctx.Done():
		return secret.Secret{}, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return secret.Secret{}, r.Err
		}
		return r.Val.(secret.Secret), nil
	}
}

// ErrUnconfirmed: Klarna could not say whether it accepts the access token
// (its userinfo did not answer); the token may still work.
var ErrUnconfirmed = errors.New("grants: Klarna did not confirm the access token")

// ConfirmedAccessToken is AccessToken for a payment session that will claim
// the customer is recognised: Klarna's userinfo must accept the token now.
// A token it refuses (revoked at Klarna, or a grant Klarna no longer knows)
// is dropped and the grant refreshed once, which ends a grant Klarna
// forgot (ErrSignInAgain). With ErrUnconfirmed it returns the token too:
// send it, but claim nothing.
func (g *Keeper) ConfirmedAccessToken(ctx context.Context, userID int64) (secret.Secret, error) {
	ctx = outbound.WithUser(ctx, userID)
	// The second userinfo is the first's repeat with a new token: one call
	// to the recorder, its try 2 after 401. The refresh between is its own.
	callCtx := outbound.RepeatableCall(ctx)
	for range 2 {
		at, err := g.AccessToken(ctx, userID)
		if err != nil {
			return at, err
		}
		err = g.cfg.Client.UserInfo(callCtx, at)
		if err == nil {
			return at, nil
		}
		if !klarnasignin.TokenInactive(err) {
			return at, fmt.Errorf("%w: %w", ErrUnconfirmed, err)
		}
		gr, rerr := g.cfg.Store.KlarnaGrant(ctx, g.cfg.Issuer, userID)
		if rerr != nil {
			return secret.Secret{}, rerr
		}
		if gr.AccessToken != "" {
			if stored, oerr := g.cfg.Box.Open(gr.AccessToken, aad(userID, "access_token")); oerr == nil && stored.Reveal() == at.Reveal() {
				if derr := g.cfg.Store.DropKlarnaAccessToken(ctx, g.cfg.Issuer, userID, gr.AccessToken); derr != nil {
					return secret.Secret{}, derr
				}
			}
		}
	}
	// Klarna refused a token it had just issued: no claim.
	return secret.Secret{}, ErrUnconfirmed
}

// fresh is one flight of AccessToken (see Keeper).
func (g *Keeper) fresh(ctx context.Context, userID int64) (secret.Secret, error) {
	ctx, cancel := context.WithTimeout(ctx, g.cfg.Lease+10*time.Second)
	defer cancel()
	for {
		gr, err := g.cfg.Store.KlarnaGrant(ctx, g.cfg.Issuer, userID)
		if errors.Is(err, db.ErrNotFound) {
			return secret.Secret{}, ErrNotConnected
		}
		if err != nil {
			return secret.Secret{}, err
		}
		if gr.Dead() {
			return secret.Secret{}, fmt.Errorf("%w (%s)", ErrSignInAgain, gr.DeadReason)
		}
		now := g.cfg.Clock.Now()
		if gr.AccessToken != "" && now.Add(g.cfg.Margin).Before(gr.AccessExpires) {
			return g.cfg.Box.Open(gr.AccessToken, aad(userID, "access_token"))
		}
		won, err := g.claim(ctx, userID, gr)
		if err != nil {
			return secret.Secret{}, fmt.Errorf("grants: waiting for another process's refresh: %w", err)
		}
		if !won {
			continue // another process claimed or changed it: read again
		}
		if !gr.RefreshExpires.IsZero() && !now.Before(gr.RefreshExpires) {
			if _, err := g.cfg.Store.KillKlarnaGrant(ctx, g.cfg.Issuer, userID, gr.Version, g.owner, "the refresh token expired"); err != nil {
				return secret.Secret{}, err
			}
			continue
		}
		at, again, err := g.refresh(ctx, userID, gr)
		if again {
			continue
		}
		return at, err
	}
}

// claim takes the refresh lease of gr for this process: a free one, or one
// whose holder let it run out before it was about to send the refresh
// token. While another process holds it, claim waits one poll and reports
// false; a sending lease that ran out kills the grant (its token may be
// spent) and reports false. False means: read the grant again.
func (g *Keeper) claim(ctx context.Context, userID int64, gr db.KlarnaGrant) (bool, error) {
	wall := g.cfg.Wall.Now()
	switch {
	case gr.LeaseOwner == "":
		return g.cfg.Store.ClaimKlarnaRefresh(ctx, g.cfg.Issuer, userID, gr.Version, g.owner, wall.Add(g.cfg.Claim))
	case wall.Before(gr.LeaseUntil):
		return false, g.wait(ctx) // another process is refreshing: wait for its next version
	case !gr.LeaseSending:
		return g.cfg.Store.TakeOverKlarnaRefresh(ctx, g.cfg.Issuer, userID, gr.Version, gr.LeaseOwner, g.owner, wall, wall.Add(g.cfg.Claim))
	default:
		// The lease ran out while its holder was sending the refresh token:
		// it may be spent, so it is not sent again.
		_, err := g.cfg.Store.KillKlarnaGrant(ctx, g.cfg.Issuer, userID, gr.Version, gr.LeaseOwner,
			"a refresh was started and never finished; its refresh token may be spent")
		return false, err
	}
}

// sending records, under the lease gr was claimed with, that this process
// is about to send the refresh token. False: another process took the lease
// over, so the token must not be sent.
func (g *Keeper) sending(ctx context.Context, userID int64, gr db.KlarnaGrant) (bool, error) {
	return g.cfg.Store.MarkKlarnaRefreshSending(ctx, g.cfg.Issuer, userID, gr.Version, g.owner, g.cfg.Wall.Now().Add(g.cfg.Lease))
}

// refresh spends the claimed grant's refresh token. again means the grant
// changed under the lease (replaced by a new sign-in): read it again.
func (g *Keeper) refresh(ctx context.Context, userID int64, gr db.KlarnaGrant) (at secret.Secret, again bool, err error) {
	kill := func(reason string) {
		if _, err := g.cfg.Store.KillKlarnaGrant(ctx, g.cfg.Issuer, userID, gr.Version, g.owner, reason); err != nil {
			g.cfg.Log.Error("klarnasignin: marking a grant dead", "user_id", userID, "error", err)
		}
	}
	rt, err := g.cfg.Box.Open(gr.RefreshToken, aad(userID, "refresh_token"))
	if err != nil {
		kill("the stored refresh token cannot be opened with this key")
		return secret.Secret{}, false, fmt.Errorf("%w (%v)", ErrSignInAgain, err)
	}
	// The grant's identity: a refresh answer's ID token must name its sub.
	id, err := g.cfg.Store.KlarnaIdentityByUser(ctx, g.cfg.Issuer, userID)
	if err != nil {
		if _, rerr := g.cfg.Store.ReleaseKlarnaRefresh(ctx, g.cfg.Issuer, userID, gr.Version, g.owner); rerr != nil {
			g.cfg.Log.Error("klarnasignin: releasing a refresh lease", "user_id", userID, "error", rerr)
		}
		return secret.Secret{}, false, err
	}
	if ok, err := g.sending(ctx, userID, gr); err != nil || !ok {
		return secret.Secret{}, err == nil, err // taken over: read it again
	}
	// The call must be over before the lease runs out, or a waiting process
	// would take the grant for dead while the answer is still coming.
	callCtx, cancel := context.WithTimeout(ctx, g.cfg.Lease*4/5)
	t, err := g.cfg.Client.Refresh(callCtx, rt, id.Sub)
	cancel()
	switch {
	case err == nil:
	case klarnasignin.IDTokenUnchecked(err):
		// Klarna issued new tokens and spent the old refresh token; only the
		// issuer's keys could not be fetched to check the ID token. Keep the
		// tokens (the grant goes on) and nothing of the ID token: the grant's
		// identity is the sign-in's (see klarnasignin.Client.Refresh).
		g.cfg.Log.Warn("klarnasignin: keeping refreshed tokens whose ID token could not be checked now; its claims are not used",
			"user_id", userID, "error", err)
	case klarnasignin.InvalidGrant(err), klarnasignin.OutcomeUnknown(err), klarnasignin.InvalidIDToken(err):
		kill(err.Error())
		g.cfg.Log.Warn("klarnasignin: grant ended; the customer must sign in with Klarna again", "user_id", userID, "error", err)
		return secret.Secret{}, false, fmt.Errorf("%w (%w)", ErrSignInAgain, err)
	default:
		// The token was not used: give the lease back for a later try.
		if _, rerr := g.cfg.Store.ReleaseKlarnaRefresh(ctx, g.cfg.Issuer, userID, gr.Version, g.owner); rerr != nil {
			g.cfg.Log.Error("klarnasignin: releasing a refresh lease", "user_id", userID, "error", rerr)
		}
		return secret.Secret{}, false, err
	}

	expires := g.cfg.Clock.Now().Add(klarnasignin.RefreshTokenTTL) // rolling, like the token's own lifetime
	if t.RefreshToken.Reveal() == rt.Reveal() {
		expires = gr.RefreshExpires // no new token was issued: the old one lives on
	}
	sealed, err := g.seal(userID, t, expires)
	if err == nil {
		var stored bool
		stored, err = g.cfg.Store.RotateKlarnaGrant(ctx, g.cfg.Issuer, userID, gr.Version, g.owner, sealed)
		if err == nil && !stored {
			// Replaced or disconnected while we refreshed: the new tokens
			// belong to nobody.
			if rerr := g.cfg.Client.Revoke(ctx, t.RefreshToken); rerr != nil {
				g.cfg.Log.Warn("klarnasignin: revoking an orphaned refresh token", "user_id", userID, "error", rerr)
			}
			return secret.Secret{}, true, nil
		}
	}
	if err != nil {
		// The new refresh token is lost and the stored one spent; the lease
		// runs out and the next caller marks the grant dead.
		g.cfg.Log.Error("klarnasignin: storing a rotated refresh token failed", "user_id", userID, "error", err)
		return secret.Secret{}, false, err
	}
	// The token's life, told by tags (secret.Tag), never the tokens.
	g.cfg.Log.InfoContext(ctx, "klarnasignin: refreshed; the refresh token was rotated and the new one stored",
		"user_id", userID, "old_refresh_token", rt.Tag(), "refresh_token", t.RefreshToken.Tag(), "access_token", t.AccessToken.Tag())
	return t.AccessToken, false, nil
}

// wait pauses one poll interval, or until ctx ends.
func (g *Keeper) wait(ctx context.Context) error { return outbound.Sleep(ctx, g.cfg.Poll) }

// Disconnect revokes the account's refresh token at Klarna and forgets the
// identity and grant. It takes the refresh lease first, so no refresh can
// store a new token behind its back.
func (g *Keeper) Disconnect(ctx context.Context, userID int64) error {
	ctx = outbound.WithUser(ctx, userID)
	ctx, cancel := context.WithTimeout(ctx, g.cfg.Lease+10*time.Second)
	defer cancel()
	for {
		gr, err := g.cfg.Store.KlarnaGrant(ctx, g.cfg.Issuer, userID)
		if errors.Is(err, db.ErrNotFound) || (err == nil && gr.Dead()) {
			return g.cfg.Store.DisconnectKlarna(ctx, g.cfg.Issuer, userID)
		}
		if err != nil {
			return err
		}
		// A refresh that died sending leaves the grant dead (forgotten
		// below); revoking a spent token would have been harmless too (RFC
		// 7009: 200 for unknown tokens).
		won, err := g.claim(ctx, userID, gr)
		if err == nil && won {
			won, err = g.sending(ctx, userID, gr)
		}
		if err != nil {
			return err
		}
		if !won {
			continue
		}
		rt, err := g.cfg.Box.Open(gr.RefreshToken, aad(userID, "refresh_token"))
		if err == nil {
			err = g.cfg.Client.Revoke(ctx, rt)
		}
		if err != nil {
			if _, rerr := g.cfg.Store.ReleaseKlarnaRefresh(ctx, g.cfg.Issuer, userID, gr.Version, g.owner); rerr != nil {
				g.cfg.Log.Error("klarnasignin: releasing a refresh lease", "user_id", userID, "error", rerr)
			}
			return fmt.Errorf("%w: %v", ErrRevoke, err)
		}
		return g.cfg.Store.DisconnectKlarna(ctx, g.cfg.Issuer, userID)
	}
}

// Sweep drops stored access tokens that have expired: they are kept only as
// long as they live.
func (g *Keeper) Sweep(ctx context.Context) (int64, error) {
	return g.cfg.Store.SweepKlarnaAccessTokens(ctx, g.cfg.Clock.Now())
}
