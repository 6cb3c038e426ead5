package db_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"refshop/db"
)

// The database holds raw session tokens: its file, WAL and shared-memory
// index must be readable by the shop's user alone, also in a data dir that
// already existed with ordinary permissions, and also when an older version
// made the file readable by others.
func TestDatabaseFilesAreOwnerOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		for _, name := range []string{"refshop.db", "refshop.db-wal", "refshop.db-shm"} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if perm := fi.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s: %s has mode %#o, want 0600", when, name, perm)
			}
		}
	}

	d, err := db.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	// The migrations wrote through the WAL, so all three files exist now.
	check("new database")
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	if err := os.Chmod(filepath.Join(dir, "refshop.db"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err = db.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	check("database left readable by others")
}
