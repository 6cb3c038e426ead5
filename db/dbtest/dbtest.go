// Package dbtest opens throwaway databases for tests: SQLite in a temporary
// directory, or, when TEST_DATABASE_URL names a PostgreSQL server, a fresh
// schema on it, dropped when the test ends. `go tool task test` runs the
// tests once on each (with-postgres makes a throw-away server when
// TEST_DATABASE_URL is unset).
package dbtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"refshop/db"
)

// URL is the PostgreSQL server the tests use; "" for SQLite.
func URL() string { return os.Getenv("TEST_DATABASE_URL") }

// Open returns a migrated database, closed (and on PostgreSQL dropped) when
// the test ends.
func Open(tb testing.TB) *db.DB {
	tb.Helper()
	start := Starter(tb)
	d, err := start(context.Background())
	if err != nil {
		tb.Fatalf("open test database: %v", err)
	}
	return d
}

// Reopen opens d's database again on new connections, as another shop
// process (or the same one restarted) would: d must come from Open or a
// Starter. It is closed when the test ends.
func Reopen(tb testing.TB, d *db.DB) *db.DB {
	tb.Helper()
	start, ok := starters.Load(d)
	if !ok {
		tb.Fatal("dbtest.Reopen: the database was not opened by dbtest")
	}
	again, err := start.(func(context.Context) (*db.DB, error))(context.Background())
	if err != nil {
		tb.Fatalf("reopen test database: %v", err)
	}
	return again
}

// starters remembers the Starter that opened each test database, for Reopen.
var starters sync.Map // *db.DB → func(context.Context) (*db.DB, error)

// Starter returns what a shop instance does at start, opening the test's
// one database (migrating it when needed): call it several times for
// several instances. Each database it returns is closed when the test ends.
func Starter(tb testing.TB) func(context.Context) (*db.DB, error) {
	tb.Helper()
	open := func(ctx context.Context, dir string) (*db.DB, error) { return db.Open(ctx, dir) }
	where := tb.TempDir()
	if URL() != "" {
		open, where = db.OpenPostgres, Schema(tb)
	}
	var start func(context.Context) (*db.DB, error)
	start = func(ctx context.Context) (*db.DB, error) {
		d, err := open(ctx, where)
		if err == nil {
			starters.Store(d, start)
			tb.Cleanup(func() { starters.Delete(d); d.Close() })
		}
		return d, err
	}
	return start
}

// Schema makes an empty schema on the TEST_DATABASE_URL server, dropped
// when the test ends, and returns a URL whose connections work in it: a
// database of the test's own on a shared server.
func Schema(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, URL())
	if err != nil {
		tb.Fatalf("TEST_DATABASE_URL: %s: %v", db.RedactURL(URL()), err)
	}
	defer conn.Close(ctx)
	name := "test_" + strings.ToLower(rand.Text()[:12])
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA %q`, name)); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, URL())
		if err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, fmt.Sprintf(`DROP SCHEMA %q CASCADE`, name)); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(URL())
	if err != nil {
		tb.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}
