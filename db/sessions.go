package db

import (
	"context"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SessionStore is an scs store that cleans up expired sessions until
// stopped.
type SessionStore interface {
	scs.Store
	StopCleanup()
}

// SessionStore keeps the sessions in this database, so every instance on
// one database reads the sessions the others wrote: scs's pgx store on
// PostgreSQL, its SQLite store otherwise. Expired sessions are deleted
// every cleanupEvery (never when 0; they are never found either way, the
// cleanup only frees the space).
func (db *DB) SessionStore(cleanupEvery time.Duration) SessionStore {
	if db.Postgres() {
		return newPgxSessions(db.Pool, cleanupEvery)
	}
	return sqlite3store.NewWithCleanupInterval(db.Write, cleanupEvery)
}

// pgxSessions is scs's pgx store with a cleanup the shop can stop: the
// store's own makes its stop channel inside its goroutine, so a StopCleanup
// soon after New races it and can leave the goroutine running.
type pgxSessions struct {
	*pgxstore.PostgresStore
	stop chan struct{}
	done chan struct{}
}

func newPgxSessions(pool *pgxpool.Pool, every time.Duration) *pgxSessions {
	s := &pgxSessions{PostgresStore: pgxstore.NewWithCleanupInterval(pool, 0), stop: make(chan struct{}), done: make(chan struct{})}
	if every <= 0 {
		close(s.done)
		return s
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				_, _ = pool.Exec(context.Background(), `DELETE FROM sessions WHERE expiry < current_timestamp`)
			}
		}
	}()
	return s
}

// StopCleanup stops the cleanup and waits for it.
func (s *pgxSessions) StopCleanup() {
	close(s.stop)
	<-s.done
}
