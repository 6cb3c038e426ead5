package db

import (
	"context"
	"time"
)

// BaseURLSeen is a public base URL another shop instance on this database
// started with, and when.
type BaseURLSeen struct {
	BaseURL   string
	StartedAt time.Time
}

// RecordBaseURL records that an instance started now with baseURL, and
// returns the other base URLs instances started with since now-within,
// newest first: instances on one database should share one, and a start
// with another is what the shop can tell of a mistake (README "Several
// instances on one database").
func (s *Store) RecordBaseURL(ctx context.Context, baseURL string, within time.Duration) (_ []BaseURLSeen, err error) {
	defer wrap(&err, "record base url")
	now := s.clock()
	if _, err := s.db.Write.ExecContext(ctx, `INSERT INTO base_urls(base_url, started_at) VALUES(?, ?)
		ON CONFLICT(base_url) DO UPDATE SET started_at = excluded.started_at`, baseURL, sortable(now)); err != nil {
		return nil, err
	}
	return list(ctx, s, func(r scanner) (BaseURLSeen, error) {
		var b BaseURLSeen
		var at string
		err := r.Scan(&b.BaseURL, &at)
		b.StartedAt = parseTime(at)
		return b, err
	}, `SELECT base_url, started_at FROM base_urls WHERE base_url <> ? AND started_at >= ? ORDER BY started_at DESC`,
		baseURL, sortable(now.Add(-within)))
}
