// Command secretscan checks, after an e2e run, that no secret of the run
// was written unredacted where it must not be: the shop's database file (and
// its -wal and -shm), its log (shop.log) and every page the specs loaded from
// it (pages/, kept by e2e/helpers.ts). A shop on PostgreSQL (-database, or
// DATABASE_URL) has no file to read: every value of every table of its
// schema is read instead.
//
// The secrets are the merchant credentials of the run (E2E_CREDENTIALS
// names them, E2E_<NAME> holds each) and every token the sandbox issued or
// holds (the webhook secrets the shop registered among them), read from its store (web/sandbox/store) and from the copies of it
// kept during the run (-keep, below). Tokens the sandbox signs but does not
// store (Vipps access tokens, checkout tokens, ID tokens) are found by their
// signature. Each value is looked for raw, URL-escaped and base64-encoded.
// A hit prints the file, the kind of secret and its secret.Tag, never the
// value.
//
// Usage:
//
//	secretscan -data DIR         scan; exit 0 clean, 1 a secret was found, 2 cannot scan
//	secretscan -data DIR -database postgres://…   the same, for a shop on PostgreSQL
//	secretscan -keep -data DIR   copy the sandbox's store aside (before a reset forgets it)
//
// A scan that could not fail is refused (exit 2): no secret to look for, no
// page, or no log (a run whose shop never started is not a run).
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"

	"refshop/db"

	"refshop/web/secret"
)

// The files of the data dir the scan reads.
const (
	dbFile   = "refshop.db" // db.Open
	logFile  = "shop.log"   // e2e/playwright.config.ts
	pagesDir = "pages"      // e2e/helpers.ts
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("secretscan", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dataDir := fl.String("data", getenv("E2E_DATA_DIR"), "the run's data dir (default $E2E_DATA_DIR)")
	keepOnly := fl.Bool("keep", false, "copy the sandbox's store aside and exit")
	databaseURL := fl.String("database", getenv("DATABASE_URL"), "the shop's PostgreSQL database, when it ran on one (default $DATABASE_URL)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *dataDir == "" {
		fmt.Fprintln(stderr, "secretscan: no data dir: pass -data or set E2E_DATA_DIR")
		return 2
	}
	if *keepOnly {
		if _, err := keep(ctx, *dataDir); err != nil {
			fmt.Fprintln(stderr, "secretscan:", err)
			return 2
		}
		return 0
	}
	r, err := scan(ctx, *dataDir, *databaseURL, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "secretscan:", err)
		return 2
	}
	for _, h := range r.Hits {
		where := h.File
		if h.Where != "" {
			where += " (" + h.Where + ")"
		}
		fmt.Fprintf(stdout, "secretscan: LEAK in %s: %s %s, %s\n", where, h.Secret.Label(), secret.Tag(h.Secret.Value), h.Form)
	}
	if len(r.Hits) > 0 {
		fmt.Fprintf(stdout, "secretscan: %d secrets found where none may be (%s)\n", len(r.Hits), r.summary())
		return 1
	}
	fmt.Fprintf(stdout, "secretscan: no secret found: %s\n", r.summary())
	return 0
}

// Report is what a scan found and how much it looked at.
type Report struct {
	Hits []Hit
	// Allowed counts the files holding a kind where it may be ("klarna
	// client_token on pages": 12), which shows the scan recognised them.
	Allowed                  map[string]int
	Secrets, Signers, Copies int
	Files                    int
	Bytes                    int64
}

var placeNames = map[Place]string{PlaceDB: "in the database file", PlaceLog: "in the log", PlacePage: "on pages"}

// postgresFile names a PostgreSQL database in a report, in place of a file.
const postgresFile = "the PostgreSQL database"

func (r Report) summary() string {
	s := fmt.Sprintf("%d secrets and %d signing keys from the credentials and %d copies of the sandbox's store, %d files, %.1f MB scanned",
		r.Secrets, r.Signers, r.Copies, r.Files, float64(r.Bytes)/1e6)
	if len(r.Allowed) > 0 {
		var seen []string
		for k, n := range r.Allowed {
			seen = append(seen, fmt.Sprintf("%s (%d files)", k, n))
		}
		sort.Strings(seen)
		s += "; where the protocol puts them: " + strings.Join(seen, ", ")
	}
	return s
}

// scan collects the secrets and looks for them in the data dir, and in the
// PostgreSQL database databaseURL names when it is set.
func scan(ctx context.Context, dataDir, databaseURL string, getenv func(string) string) (Report, error) {
	var s Secrets
	if err := s.Credentials(getenv); err != nil {
		return Report{}, err
	}
	// The store as it is now, as one more copy beside those kept during the run.
	if _, err := os.Stat(filepath.Join(dataDir, "sandbox.db")); err == nil {
		if _, err := keep(ctx, dataDir); err != nil {
			return Report{}, err
		}
	}
	copies, err := keptDirs(dataDir)
	if err != nil {
		return Report{}, err
	}
	for _, dir := range copies {
		if err := s.Store(ctx, dir); err != nil {
			return Report{}, fmt.Errorf("reading the sandbox's store in %s: %w", dir, err)
		}
	}
	r := Report{Secrets: len(s.Values), Signers: len(s.Signers), Copies: len(copies), Allowed: map[string]int{}}
	if len(s.Values) == 0 {
		return r, errors.New("no secret to look for: neither E2E_CREDENTIALS nor a sandbox store in the data dir gave one; a scan for nothing cannot fail")
	}

	logPath := filepath.Join(dataDir, logFile)
	if fi, err := os.Stat(logPath); err != nil || fi.Size() == 0 {
		return r, fmt.Errorf("no shop log at %s (or it is empty): the shop never ran, so there is nothing to vouch for", logPath)
	}
	pages, err := filepath.Glob(filepath.Join(dataDir, pagesDir, "*"))
	if err != nil {
		return r, err
	}
	if len(pages) == 0 {
		return r, fmt.Errorf("no page in %s: the specs kept none (e2e/helpers.ts), so the pages cannot be vouched for", filepath.Join(dataDir, pagesDir))
	}
	dbPath := filepath.Join(dataDir, dbFile)
	if databaseURL == "" {
		if _, err := os.Stat(dbPath); err != nil {
			return r, fmt.Errorf("no shop database: %w", err)
		}
	}

	files := map[string]Place{logPath: PlaceLog}
	for _, p := range pages {
		files[p] = PlacePage
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if _, err := os.Stat(dbPath + suffix); err == nil && databaseURL == "" {
			files[dbPath+suffix] = PlaceDB
		}
	}
	names := make([]string, 0, len(files))
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)

	m := NewMatcher(&s)
	for _, f := range names {
		data, err := os.ReadFile(f)
		if err != nil {
			return r, err
		}
		r.Files++
		r.Bytes += int64(len(data))
		rel, _ := filepath.Rel(dataDir, f)
		for _, h := range m.Find(data) {
			if allowed(h.Secret.Kind, files[f]) {
				r.Allowed[h.Secret.Kind.Name+" "+placeNames[files[f]]]++
				continue
			}
			h.File = rel
			r.Hits = append(r.Hits, h)
		}
	}

	if databaseURL != "" {
		return scanPostgres(ctx, databaseURL, m, r)
	}
	rows, err := openReadOnly(dbPath)
	if err != nil {
		return r, err
	}
	defer rows.Close()
	hits, err := scanRows(ctx, rows, `SELECT name FROM sqlite_master WHERE type = 'table'`, m, false)
	if err != nil {
		return r, fmt.Errorf("reading %s: %w", dbPath, err)
	}
	for _, h := range hits {
		h.File = dbFile
		r.Hits = append(r.Hits, h)
	}
	return r, nil
}

// scanPostgres reads every value of every table of the shop's schema on
// PostgreSQL for every kind: there is no file whose bytes were scanned
// already, so the browser kinds are the only ones allowed, in their columns.
func scanPostgres(ctx context.Context, databaseURL string, m *Matcher, r Report) (Report, error) {
	pg, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return r, fmt.Errorf("-database %s: %w", db.RedactURL(databaseURL), err)
	}
	defer pg.Close()
	var tables int
	if err := pg.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`).Scan(&tables); err != nil {
		return r, fmt.Errorf("-database %s: %w", db.RedactURL(databaseURL), err)
	}
	if tables == 0 {
		return r, fmt.Errorf("no shop database: no table in %s", db.RedactURL(databaseURL))
	}
	hits, err := scanRows(ctx, pg, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`, m, true)
	if err != nil {
		return r, fmt.Errorf("reading %s: %w", db.RedactURL(databaseURL), err)
	}
	for _, h := range hits {
		h.File = postgresFile
		r.Hits = append(r.Hits, h)
	}
	r.Files++
	return r, nil
}

func openReadOnly(path string) (*sql.DB, error) {
	q := url.Values{"mode": {"ro"}}
	q.Add("_pragma", "busy_timeout(5000)")
	return sql.Open("sqlite", "file:"+path+"?"+q.Encode())
}
