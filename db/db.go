// Package db opens the shop's database, applies the embedded migrations,
// and holds the store: every query the shop makes. SQLite in the data dir is
// the default; a DATABASE_URL naming PostgreSQL (OpenURL) lets several shop
// instances share one database. The store's SQL is written once, with
// SQLite's ? placeholders, and runs on both (postgres.go rebinds it).
package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go, no cgo)
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is the database. On SQLite it has two pools, as PocketBase does: one
// connection for writes (SQLite has one writer; a single connection queues
// writers in Go instead of in busy retries) and several for reads (WAL lets
// them run beside the writer). On PostgreSQL Write and Read are one pool.
type DB struct {
	Write *sql.DB
	Read  *sql.DB
	Path  string        // the SQLite file; "" on PostgreSQL
	Pool  *pgxpool.Pool // PostgreSQL's pool under Write and Read; nil on SQLite
	dialect
}

// dsn builds a modernc.org/sqlite DSN. Pragmas run on every new connection:
// WAL for concurrent readers, busy_timeout so a second process waits instead
// of failing, foreign keys on, and _txlock=immediate so a write transaction
// takes the write lock at BEGIN (no upgrade deadlocks between two writers).
func dsn(path string) string {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "busy_timeout(10000)", "foreign_keys(ON)", "synchronous(NORMAL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating when missing) the SQLite database file in dir and
// migrates it.
func Open(ctx context.Context, dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("db: data dir: %w", err)
	}
	path := filepath.Join(dir, "refshop.db")
	if err := ownerOnly(path); err != nil {
		return nil, fmt.Errorf("db: %w", err)
	}
	w, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("db: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("db: open: %w", err)
	}
	r.SetMaxOpenConns(8)
	db := &DB{Write: w, Read: r, Path: path}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// ownerOnly makes the database file readable by the shop's user alone before
// SQLite opens it: it holds raw session tokens. SQLite creates the WAL and
// shared-memory files with the database file's mode, so they follow; the
// chmods cover files an older version left readable by others.
func ownerOnly(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (db *DB) migrate(ctx context.Context) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, db.Write, mustSub(migrations, "migrations"))
	if err != nil {
		return fmt.Errorf("db: migrations: %w", err)
	}
	// SQLite has no migration lock: two shops starting on one file at once
	// can both set out to apply a migration. Each runs in a transaction
	// that takes the write lock at BEGIN, so the one that comes second
	// fails and is rolled back whole; trying again goes on from what the
	// first committed. A migration that is broken fails every try.
	for try := 1; ; try++ {
		_, err := p.Up(ctx)
		if err == nil {
			return nil
		}
		if try == 5 || ctx.Err() != nil {
			return fmt.Errorf("db: migrate: %w", err)
		}
	}
}

// Close closes the pools.
func (db *DB) Close() error {
	err := db.Write.Close()
	if db.Read != db.Write {
		err = errors.Join(db.Read.Close(), err)
	}
	if db.Pool != nil {
		db.Pool.Close()
	}
	return err
}

// Postgres reports whether the database is PostgreSQL.
func (db *DB) Postgres() bool { return db.dialect == dialectPostgres }

// Ping checks that the database answers a query.
func (db *DB) Ping(ctx context.Context) (err error) {
	defer wrap(&err, "ping")
	var one int
	return db.Read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

var (
	// ErrNotFound: no such row (or not the caller's).
	ErrNotFound = errors.New("not found")
	// ErrStale: a compare-and-swap lost to another writer.
	ErrStale = errors.New("row changed by another request")
)

// Store is every query the shop makes. Its clock stamps rows.
type Store struct {
	db    *DB
	clock func() time.Time
}

// NewStore returns a store on db that stamps rows with the time now tells
// (a test passes its own clock's Now); nil means time.Now.
func NewStore(db *DB, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, clock: now}
}

func (s *Store) now() string { return stamp(s.clock()) }

// stamp is how a time is stored in a TEXT column: UTC, RFC 3339 with
// nanoseconds.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// wrap names the Store operation in the error it returns, if any:
// "db: swap klarna token: row changed by another request". errors.Is still
// finds the sentinels (ErrNotFound, ErrStale, ...) inside. Every exported
// Store method defers it first thing.
func wrap(errp *error, op string) {
	if *errp != nil {
		*errp = fmt.Errorf("db: %s: %w", op, *errp)
	}
}

// tx runs f in one write transaction, committing when f returns nil.
//
// Many of the store's transactions read, then write what they read (is
// there an open attempt for this cart? then make one). On SQLite that is
// safe because _txlock=immediate makes them one at a time, across
// processes too. On PostgreSQL, where several shop instances write at once,
// they run SERIALIZABLE: PostgreSQL lets them overlap and aborts one of two
// that conflict (SQLSTATE 40001, or 40P01 for a deadlock), which tx then
// runs again from the start, as PostgreSQL's documentation asks
// (https://www.postgresql.org/docs/current/transaction-iso.html#XACT-SERIALIZABLE).
// So f may run more than once: it must set what it returns afresh on each
// run.
func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	if !s.db.Postgres() {
		return runTx(ctx, s.db.Write, nil, f)
	}
	opts := &sql.TxOptions{Isolation: sql.LevelSerializable}
	for try := 1; ; try++ {
		err := runTx(ctx, s.db.Write, opts, f)
		if !mustRetry(err) || try == maxTxTries {
			return err
		}
		// A short random pause, growing with the tries, so the transactions
		// that collided do not collide again at once.
		pause := time.Duration(rand.Int64N(int64(try) * int64(2*time.Millisecond)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// maxTxTries bounds the runs of one serializable transaction: fifty
// requests on one row at once still finish, and a transaction that keeps
// conflicting reports its error instead of running forever.
const maxTxTries = 20

func runTx(ctx context.Context, pool *sql.DB, opts *sql.TxOptions, f func(*sql.Tx) error) error {
	tx, err := pool.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// mustRetry reports a PostgreSQL transaction aborted for colliding with
// another: a serialization failure or a deadlock.
func mustRetry(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40001" || pg.Code == "40P01")
}

// execer is a pool or a transaction.
type execer interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// changed runs a conditional write (a compare-and-swap) and reports whether
// it changed exactly one row.
func changed(ctx context.Context, ex execer, query string, args ...any) (bool, error) {
	res, err := ex.ExecContext(ctx, query, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// swapOne is changed for a write that must change one row: ErrStale when it
// changed none (another request got there first).
func swapOne(ctx context.Context, ex execer, query string, args ...any) error {
	ok, err := changed(ctx, ex, query, args...)
	if err == nil && !ok {
		return ErrStale
	}
	return err
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(...any) error }

// list runs a query on the read pool and scans every row it returns.
func list[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	return listOn(ctx, s.db.Read, scan, query, args...)
}

// querier is a pool or a transaction.
type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

// listOn is list on q: a transaction reads what it wrote.
func listOn[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// noRows turns "no row" into ErrNotFound, for queries that look one up.
func noRows(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// affected turns an UPDATE that changed no row into ErrStale.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err == nil && n == 0 {
		return ErrStale
	}
	return err
}

func nullInt(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

func nullString(v string) any {
	if v == "" {
		return nil
	}
	return v
}
