package db

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// The sign-in throttle's counts (web/throttle.go), kept here so that every
// shop instance on the database counts the same failures. A key's failures
// older than the throttle's window count as none: each call takes since, the
// start of the window, rather than this package knowing the rule.

// ThrottleFailures returns key's failures and when the last was, counting
// none when the last was before since.
func (s *Store) ThrottleFailures(ctx context.Context, key string, since time.Time) (n int, last time.Time, err error) {
	defer wrap(&err, "throttle failures")
	var at string
	err = s.db.Read.QueryRowContext(ctx, `SELECT failures, last_at FROM throttle WHERE key = ? AND last_at >= ?`,
		key, sortable(since)).Scan(&n, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, err
	}
	last, err = time.Parse(exchangeStamp, at)
	return n, last, err
}

// AddThrottleFailure counts one failure of key at now, first forgetting its
// failures when the last was before since, in one statement (two instances
// counting at once both count). It returns the failures so far. The last
// failure's time never moves back, whichever instance's clock is behind.
func (s *Store) AddThrottleFailure(ctx context.Context, key string, now, since time.Time) (n int, err error) {
	defer wrap(&err, "add throttle failure")
	err = s.db.Write.QueryRowContext(ctx, `INSERT INTO throttle(key, failures, last_at) VALUES(?, 1, ?)
		ON CONFLICT(key) DO UPDATE SET
			failures = CASE WHEN throttle.last_at < ? THEN 1 ELSE throttle.failures + 1 END,
			last_at = CASE WHEN throttle.last_at < excluded.last_at THEN excluded.last_at ELSE throttle.last_at END
		RETURNING failures`, key, sortable(now), sortable(since)).Scan(&n)
	return n, err
}

// ForgetThrottle forgets key's failures.
func (s *Store) ForgetThrottle(ctx context.Context, key string) (err error) {
	defer wrap(&err, "forget throttle")
	_, err = s.db.Write.ExecContext(ctx, `DELETE FROM throttle WHERE key = ?`, key)
	return err
}

// PruneThrottle deletes the keys whose last failure was before before (they
// count as none) and returns how many.
func (s *Store) PruneThrottle(ctx context.Context, before time.Time) (n int64, err error) {
	defer wrap(&err, "prune throttle")
	res, err := s.db.Write.ExecContext(ctx, `DELETE FROM throttle WHERE last_at < ?`, sortable(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
