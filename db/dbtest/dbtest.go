// Package dbtest opens throwaway databases for tests.
package dbtest

import (
	"context"
	"testing"

	"refshop/db"
)

// Open returns a migrated database in a temporary directory, closed when the
// test ends.
func Open(tb testing.TB) *db.DB {
	tb.Helper()
	d, err := db.Open(context.Background(), tb.TempDir())
	if err != nil {
		tb.Fatalf("open test database: %v", err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}
