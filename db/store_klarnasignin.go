package db

// Sign in with Klarna: the Klarna identity (OIDC sub) an account is connected
// to, and the grant behind it. Klarna's refresh tokens are single use: each
// refresh answers a new one that replaces the old, so the stored grant is
// rotated with a compare-and-swap on its version, under a lease that lets
// one process at a time spend the refresh token. See
// https://docs.klarna.com/sign-in-with-klarna/additional-resources/other-operations
//
// Both belong to the issuer (the Klarna environment's OIDC issuer URL) that
// made them: an account has at most one identity and grant per issuer, a sub
// is unique within its issuer, and every read and write names the issuer the
// shop is configured with, so a grant from another environment is never
// sent.

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

var (
	// ErrKlarnaTaken: that Klarna identity is connected to another account.
	ErrKlarnaTaken = errors.New("the Klarna identity is connected to another account")
	// ErrKlarnaConnected: the account is connected to another Klarna identity.
	ErrKlarnaConnected = errors.New("the account is connected to another Klarna identity")
)

// KlarnaIdentity is the Klarna identity (OIDC sub) an account is connected to.
type KlarnaIdentity struct {
	UserID      int64
	Issuer      string
	Sub         string
	Email       string
	Name        string
	ConnectedAt time.Time
}

// KlarnaTokens are a grant's tokens as stored: sealed by the caller.
type KlarnaTokens struct {
	RefreshToken   string // sealed
	RefreshExpires time.Time
	AccessToken    string // sealed; "" when none is stored
	AccessExpires  time.Time
	Scope          string
}

// KlarnaGrant is the stored grant of one account.
type KlarnaGrant struct {
	UserID  int64
	Issuer  string
	Version int64
	KlarnaTokens
	LeaseOwner string    // the process refreshing it now, or ""
	LeaseUntil time.Time // when that lease runs out (wall clock)
	// LeaseSending: the lease's holder is about to send, or sent, the
	// refresh token. A lease that runs out without it never spent the
	// token, so another process may take it over.
	LeaseSending bool
	DeadAt       time.Time
	DeadReason   string
}

// Dead reports whether Klarna ended the grant: only a new sign-in helps.
func (g KlarnaGrant) Dead() bool { return !g.DeadAt.IsZero() }

// SealFunc seals a grant's tokens for the user they will belong to (the id
// is known only inside the transaction that creates the user).
type SealFunc func(userID int64) (KlarnaTokens, error)

// CreateKlarnaUser makes an account for a first Sign in with Klarna, with its
// identity and grant, in one transaction: ErrEmailTaken when an account has
// the email (it is not joined: the caller explains), ErrKlarnaTaken when the
// identity was connected meanwhile.
func (s *Store) CreateKlarnaUser(ctx context.Context, email, name string, id KlarnaIdentity, seal SealFunc) (_ User, err error) {
	defer wrap(&err, "create klarna user")
	var u User
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if u, err = s.insertUser(ctx, tx, email, name, ""); err != nil {
			return err
		}
		if err := s.insertKlarnaIdentity(ctx, tx, u.ID, id); err != nil {
			return err
		}
		return s.putKlarnaGrant(ctx, tx, u.ID, id.Issuer, seal)
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// ConnectKlarna connects the account to a Klarna identity of id.Issuer (or
// renews the connection of the same identity at a new sign-in) and stores the new grant
// in place of any previous one, whose tokens it returns (sealed) so the
// caller can revoke them. ErrKlarnaConnected: the account has another
// identity; ErrKlarnaTaken: the identity belongs to another account.
func (s *Store) ConnectKlarna(ctx context.Context, userID int64, id KlarnaIdentity, seal SealFunc) (previous KlarnaGrant, err error) {
	defer wrap(&err, "connect klarna")
	err = s.tx(ctx, func(tx *sql.Tx) error {
		previous = KlarnaGrant{} // the transaction may run again (Store.tx)
		var sub string
		err := tx.QueryRowContext(ctx, `SELECT sub FROM klarna_identities WHERE user_id = ? AND issuer = ?`, userID, id.Issuer).Scan(&sub)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := s.insertKlarnaIdentity(ctx, tx, userID, id); err != nil {
				return err
			}
		case err != nil:
			return err
		case sub != id.Sub:
			return ErrKlarnaConnected
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE klarna_identities SET email = ?, name = ? WHERE user_id = ? AND issuer = ?`,
				id.Email, id.Name, userID, id.Issuer); err != nil {
				return err
			}
			previous, err = scanKlarnaGrant(tx.QueryRowContext(ctx, selectKlarnaGrant, userID, id.Issuer))
			if err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
		return s.putKlarnaGrant(ctx, tx, userID, id.Issuer, seal)
	})
	return previous, err
}

func (s *Store) insertKlarnaIdentity(ctx context.Context, tx *sql.Tx, userID int64, id KlarnaIdentity) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO klarna_identities(user_id, issuer, sub, email, name, connected_at) VALUES(?, ?, ?, ?, ?, ?)`,
		userID, id.Issuer, id.Sub, id.Email, id.Name, s.now())
	if isUniqueViolation(err) {
		return ErrKlarnaTaken
	}
	return err
}

// putKlarnaGrant stores a new grant, replacing any previous one: a new
// version, no lease. A grant without a refresh token (Klarna did not grant
// offline_access) is stored dead: it cannot be refreshed.
func (s *Store) putKlarnaGrant(ctx context.Context, tx *sql.Tx, userID int64, issuer string, seal SealFunc) error {
	t, err := seal(userID)
	if err != nil {
		return err
	}
	var deadAt any
	deadReason := ""
	if t.RefreshToken == "" {
		deadAt, deadReason = s.now(), "no refresh token was granted"
		t.AccessToken, t.AccessExpires, t.RefreshExpires = "", time.Time{}, time.Time{}
	}
	_, err = tx.ExecContext(ctx, `
		INSERT INTO klarna_grants(user_id, issuer, version, refresh_token, refresh_expires_ms, access_token, access_expires_ms, scope,
			dead_at, dead_reason, updated_at)
		VALUES(?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(user_id, issuer) DO UPDATE SET
			version = klarna_grants.version + 1, refresh_token = excluded.refresh_token, refresh_expires_ms = excluded.refresh_expires_ms,
			access_token = excluded.access_token, access_expires_ms = excluded.access_expires_ms, scope = excluded.scope,
			lease_owner = NULL, lease_until_ms = NULL, lease_sending = 0, dead_at = excluded.dead_at, dead_reason = excluded.dead_reason,
			updated_at = excluded.updated_at`,
		userID, issuer, nullString(t.RefreshToken), nullMillis(t.RefreshExpires), nullString(t.AccessToken), nullMillis(t.AccessExpires),
		t.Scope, deadAt, deadReason, s.now())
	return err
}

const klarnaIdentityColumns = `user_id, issuer, sub, email, name, connected_at`

// KlarnaIdentityBySub finds the account connected to issuer's identity sub.
func (s *Store) KlarnaIdentityBySub(ctx context.Context, issuer, sub string) (_ KlarnaIdentity, err error) {
	defer wrap(&err, "klarna identity by sub")
	return scanKlarnaIdentity(s.db.Read.QueryRowContext(ctx,
		`SELECT `+klarnaIdentityColumns+` FROM klarna_identities WHERE issuer = ? AND sub = ?`, issuer, sub))
}

// KlarnaIdentityByUser finds the identity of issuer an account is connected
// to.
func (s *Store) KlarnaIdentityByUser(ctx context.Context, issuer string, userID int64) (_ KlarnaIdentity, err error) {
	defer wrap(&err, "klarna identity by user")
	return scanKlarnaIdentity(s.db.Read.QueryRowContext(ctx,
		`SELECT `+klarnaIdentityColumns+` FROM klarna_identities WHERE user_id = ? AND issuer = ?`, userID, issuer))
}

func scanKlarnaIdentity(row *sql.Row) (KlarnaIdentity, error) {
	var id KlarnaIdentity
	var at string
	err := row.Scan(&id.UserID, &id.Issuer, &id.Sub, &id.Email, &id.Name, &at)
	id.ConnectedAt = parseTime(at)
	return id, noRows(err)
}

const selectKlarnaGrant = `SELECT user_id, issuer, version, COALESCE(refresh_token, ''), refresh_expires_ms,
	COALESCE(access_token, ''), access_expires_ms, scope, COALESCE(lease_owner, ''), lease_until_ms, lease_sending,
	COALESCE(dead_at, ''), dead_reason FROM klarna_grants WHERE user_id = ? AND issuer = ?`

// KlarnaGrant reads an account's grant from issuer as it is now.
func (s *Store) KlarnaGrant(ctx context.Context, issuer string, userID int64) (_ KlarnaGrant, err error) {
	defer wrap(&err, "klarna grant")
	return scanKlarnaGrant(s.db.Read.QueryRowContext(ctx, selectKlarnaGrant, userID, issuer))
}

func scanKlarnaGrant(row *sql.Row) (KlarnaGrant, error) {
	var g KlarnaGrant
	var refreshExp, accessExp, leaseUntil sql.NullInt64
	var dead string
	err := row.Scan(&g.UserID, &g.Issuer, &g.Version, &g.RefreshToken, &refreshExp, &g.AccessToken, &accessExp, &g.Scope,
		&g.LeaseOwner, &leaseUntil, &g.LeaseSending, &dead, &g.DeadReason)
	if err != nil {
		return KlarnaGrant{}, noRows(err)
	}
	g.RefreshExpires, g.AccessExpires, g.LeaseUntil = fromMillis(refreshExp), fromMillis(accessExp), fromMillis(leaseUntil)
	if dead != "" {
		g.DeadAt = parseTime(dead)
	}
	return g, nil
}

// ClaimKlarnaRefresh takes the right to refresh the grant at version: only
// when the version is unchanged, the grant alive and nobody holds a lease.
// Exactly one of any number of racing callers, in any number of processes,
// gets true. The lease is not sending yet (MarkKlarnaRefreshSending).
func (s *Store) ClaimKlarnaRefresh(ctx context.Context, issuer string, userID, version int64, owner string, until time.Time) (_ bool, err error) {
	defer wrap(&err, "claim klarna refresh")
	return changed(ctx, s.db.Write, `UPDATE klarna_grants SET lease_owner = ?, lease_until_ms = ?, lease_sending = 0, updated_at = ?
		WHERE user_id = ? AND issuer = ? AND version = ? AND dead_at IS NULL AND lease_owner IS NULL`,
		owner, until.UnixMilli(), s.now(), userID, issuer, version)
}

// TakeOverKlarnaRefresh takes a lease whose holder stale let it run out
// (at now) before it was about to send the refresh token: that token was
// never sent, so it is safe to send. False when the lease is sending, still
// running, or no longer stale's.
func (s *Store) TakeOverKlarnaRefresh(ctx context.Context, issuer string, userID, version int64, stale, owner string, now, until time.Time) (_ bool, err error) {
	defer wrap(&err, "take over klarna refresh")
	return changed(ctx, s.db.Write, `UPDATE klarna_grants SET lease_owner = ?, lease_until_ms = ?, updated_at = ?
		WHERE user_id = ? AND issuer = ? AND version = ? AND dead_at IS NULL AND lease_owner = ? AND lease_sending = 0 AND lease_until_ms <= ?`,
		owner, until.UnixMilli(), s.now(), userID, issuer, version, stale, now.UnixMilli())
}

// MarkKlarnaRefreshSending records that owner is about to send the refresh
// token, and runs its lease until until. False when owner no longer holds
// the lease (another process took it over): then it must not send.
func (s *Store) MarkKlarnaRefreshSending(ctx context.Context, issuer string, userID, version int64, owner string, until time.Time) (_ bool, err error) {
	defer wrap(&err, "mark klarna refresh sending")
	return changed(ctx, s.db.Write, `UPDATE klarna_grants SET lease_sending = 1, lease_until_ms = ?, updated_at = ?
		WHERE user_id = ? AND issuer = ? AND version = ? AND dead_at IS NULL AND lease_owner = ? AND lease_sending = 0`,
		until.UnixMilli(), s.now(), userID, issuer, version, owner)
}

// ReleaseKlarnaRefresh gives a lease back unused: the refresh token was not
// spent (the call never reached Klarna, or Klarna failed before using it).
func (s *Store) ReleaseKlarnaRefresh(ctx context.Context, issuer string, userID, version int64, owner string) (_ bool, err error) {
	defer wrap(&err, "release klarna refresh")
	return changed(ctx, s.db.Write, `UPDATE klarna_grants SET lease_owner = NULL, lease_until_ms = NULL, lease_sending = 0, updated_at = ?
		WHERE user_id = ? AND issuer = ? AND version = ? AND lease_owner = ?`, s.now(), userID, issuer, version, owner)
}

// RotateKlarnaGrant stores the tokens a refresh returned, in the one atomic
// step that also moves the version on and ends the lease: a compare-and-swap
// on the version and the lease owner, so a grant replaced, killed or
// disconnected meanwhile is never overwritten.
func (s *Store) RotateKlarnaGrant(ctx context.Context, issuer string, userID, version int64, owner string, t KlarnaTokens) (_ bool, err error) {
	defer wrap(&err, "rotate klarna grant")
	return changed(ctx, s.db.Write, `UPDATE klarna_grants SET version = version + 1, refresh_token = ?, refresh_expires_ms = ?,
		access_token = ?, access_expires_ms = ?, scope = ?, lease_owner = NULL, lease_until_ms = NULL, lease_sending = 0, updated_at = ?
		WHERE user_id = ? AND issuer = ? AND version = ? AND lease_owner = ? AND dead_at IS NULL`,
		t.RefreshToken, nullMillis(t.RefreshExpires), nullString(t.AccessToken), nullMillis(t.AccessExpires), t.Scope,
		s.now(), userID, issuer, version, owner)
}

// KillKlarnaGrant marks the grant at version dead and drops its tokens. owner
// is the lease the caller saw ("" for none): a grant that changed since is
// left alone.
func (s *Store) KillKlarnaGrant(ctx context.Context, issuer string, userID, version int64, owner, reason string) (_ bool, err error) {
	defer wrap(&err, "kill klarna grant")
	return changed(ctx, s.db.Write, `UPDATE klarna_grants SET version = version + 1, refresh_token = NULL, refresh_expires_ms = NULL,
		access_token = NULL, access_expires_ms = NULL, lease_owner = NULL, lease_until_ms = NULL, lease_sending = 0,
		dead_at = ?, dead_reason = ?, updated_at = ?
		WHERE user_id = ? AND issuer = ? AND version = ? AND lease_owner IS NOT DISTINCT FROM ? AND dead_at IS NULL`,
		s.now(), reason, s.now(), userID, issuer, version, nullString(owner))
}

// DropKlarnaAccessToken forgets the grant's access token if it is still
// sealed (the one the caller found Klarna refuses), so the next caller
// refreshes. The version stays: the refresh token is unchanged.
func (s *Store) DropKlarnaAccessToken(ctx context.Context, issuer string, userID int64, sealed string) (err error) {
	defer wrap(&err, "drop klarna access token")
	_, err = s.db.Write.ExecContext(ctx, `UPDATE klarna_grants SET access_token = NULL, access_expires_ms = NULL, updated_at = ?
		WHERE user_id = ? AND issuer = ? AND access_token = ?`, s.now(), userID, issuer, sealed)
	return err
}

// DisconnectKlarna forgets the account's identity of issuer and its grant.
func (s *Store) DisconnectKlarna(ctx context.Context, issuer string, userID int64) (err error) {
	defer wrap(&err, "disconnect klarna")
	_, err = s.db.Write.ExecContext(ctx, `DELETE FROM klarna_identities WHERE user_id = ? AND issuer = ?`, userID, issuer)
	return err
}

// SweepKlarnaAccessTokens drops access tokens that expired before now: they
// are kept only as long as they live.
func (s *Store) SweepKlarnaAccessTokens(ctx context.Context, now time.Time) (_ int64, err error) {
	defer wrap(&err, "sweep klarna access tokens")
	res, err := s.db.Write.ExecContext(ctx, `UPDATE klarna_grants SET access_token = NULL, access_expires_ms = NULL
		WHERE access_token IS NOT NULL AND access_expires_ms <= ?`, now.UnixMilli())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func nullMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

func fromMillis(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64).UTC()
}
