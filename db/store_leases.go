package db

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Leases let several shop instances on one database run each background
// sweep once between them: an instance runs a pass only while it holds the
// sweep's lease, renews it with every pass, and another instance takes it
// over only once it lapses (the holder stopped, or hangs). The take is one
// statement, an insert or a conditional update, so two instances racing for
// a free or lapsed lease cannot both win: SQLite has one writer, and
// PostgreSQL's ON CONFLICT DO UPDATE locks the row it updates.

// TakeLease takes the lease called name for holder until now+ttl, or renews
// it when holder has it already. False when another holder's lease runs
// past now.
func (s *Store) TakeLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (_ bool, err error) {
	defer wrap(&err, "take lease")
	var got string
	err = s.db.Write.QueryRowContext(ctx, `INSERT INTO leases(name, holder, until) VALUES(?, ?, ?)
		ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, until = excluded.until
		WHERE leases.until <= ? OR leases.holder = excluded.holder
		RETURNING holder`, name, holder, sortable(now.Add(ttl)), sortable(now)).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil && got == holder, err
}

// ReleaseLease gives up holder's lease called name, so another instance
// takes it at its next pass instead of when it lapses. Nothing when holder
// does not hold it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) (err error) {
	defer wrap(&err, "release lease")
	_, err = s.db.Write.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
	return err
}

// LeaseHolder returns who holds the lease called name and until when; ""
// when nobody ever took it or it was released. A lapsed lease still names
// its last holder.
func (s *Store) LeaseHolder(ctx context.Context, name string) (holder string, until time.Time, err error) {
	defer wrap(&err, "lease holder")
	var u string
	err = s.db.Read.QueryRowContext(ctx, `SELECT holder, until FROM leases WHERE name = ?`, name).Scan(&holder, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, err
	}
	until, err = time.Parse(exchangeStamp, u)
	return holder, until, err
}
