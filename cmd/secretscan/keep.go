package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"refshop/web/sandbox/store"
)

// keptPath is where keep puts its copies of the sandbox's store.
func keptPath(dataDir string, elem ...string) string {
	return filepath.Join(append([]string{dataDir, "sandbox-kept"}, elem...)...)
}

// keep copies the sandbox's store in dataDir, as it is now, into a new
// directory below dataDir/sandbox-kept and returns that directory. The e2e
// specs reset the sandbox before each test (POST /control/reset forgets
// every token, and Alternative Payments makes a new signing key), so the
// store at the end of a run holds only the last test's secrets: the e2e
// fixture calls keep after every test and before every reset, and the scan
// reads every copy. VACUUM INTO makes a consistent copy while the sandbox
// keeps running, which copying the file and its WAL would not.
func keep(ctx context.Context, dataDir string) (string, error) {
	src := filepath.Join(dataDir, store.FileName)
	if _, err := os.Stat(src); err != nil {
		return "", fmt.Errorf("no sandbox store to keep: %w", err)
	}
	if err := os.MkdirAll(keptPath(dataDir), 0o700); err != nil {
		return "", err
	}
	dst, err := os.MkdirTemp(keptPath(dataDir), "")
	if err != nil {
		return "", err
	}
	q := url.Values{"mode": {"ro"}}
	q.Add("_pragma", "busy_timeout(5000)")
	db, err := sql.Open("sqlite", "file:"+src+"?"+q.Encode())
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, filepath.Join(dst, store.FileName)); err != nil {
		return "", fmt.Errorf("copying %s: %w", src, err)
	}
	return dst, nil
}
