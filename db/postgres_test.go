package db_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"refshop/db"
	"refshop/db/dbtest"
)

// Four instances starting at once on one new database: all start, and each
// migration was applied once (on PostgreSQL under the migration lock).
func TestMigrationsRacedByFourStartersApplyOnce(t *testing.T) {
	start := dbtest.Starter(t)
	var wg sync.WaitGroup
	dbs := make([]*db.DB, 4)
	errs := make([]error, 4)
	for i := range dbs {
		wg.Go(func() { dbs[i], errs[i] = start(t.Context()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("starter %d: %v", i+1, err)
		}
	}
	rows, err := dbs[0].Read.Query(`SELECT version_id, count(*) FROM goose_db_version WHERE version_id > 0 GROUP BY version_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	versions := 0
	for rows.Next() {
		var version, n int64
		if err := rows.Scan(&version, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("migration %d applied %d times", version, n)
		}
		versions++
	}
	if err := rows.Err(); err != nil || versions == 0 {
		t.Fatalf("%d migrations recorded (%v)", versions, err)
	}
}

// A DATABASE_URL that is not PostgreSQL's, or that names a server that
// does not answer, stops the start with an error naming the variable and
// never the password.
func TestABadDatabaseURLIsNamedWithoutItsPassword(t *testing.T) {
	for _, u := range []string{
		"mysql://shop:s3cret-pw@localhost/shop",
		"postgres://shop:s3cret-pw@127.0.0.1:1/shop?connect_timeout=2",
		"postgres://shop@127.0.0.1:1/shop?password=s3cret-pw&connect_timeout=2",
		"postgres://shop:s3cret-pw@[::1/shop",
	} {
		d, err := db.OpenURL(t.Context(), u, t.TempDir())
		if err == nil {
			d.Close()
			t.Errorf("%s: opened", u)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "DATABASE_URL") || strings.Contains(msg, "s3cret") {
			t.Errorf("%s: %q; want DATABASE_URL named, the password not", u, msg)
		}
	}
}

// An empty DATABASE_URL is SQLite in the data dir.
func TestNoDatabaseURLIsSQLiteInTheDataDir(t *testing.T) {
	dir := t.TempDir()
	d, err := db.OpenURL(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Postgres() || !strings.HasPrefix(d.Path, dir) {
		t.Errorf("opened %q (postgres %v), want SQLite in %s", d.Path, d.Postgres(), dir)
	}
}
