// Package store keeps the provider sandbox's state in its own SQLite file,
// sandbox.db in the data dir, so that restarting the sandbox (or the shop it
// runs in) changes nothing: payments, sessions, orders, customer tokens,
// customers, invoices, grants and the keys that signed the tokens already
// handed out are all still there. POST /control/reset is the one way to
// forget them.
//
// The design is the least invasive one that is correct. Each emulated
// provider keeps its objects in memory, in its own types behind its own
// mutex, exactly as before; the file is their durable copy. A part (a
// provider, or the control state) hands the store a dump of every object it
// holds, and the store writes the rows that changed since the last save and
// deletes the rows of objects that are gone, in one transaction. Every
// change happens while the sandbox serves a request, so the sandbox saves
// after each one (control.State.Wrap: the control state and the parts whose
// routes the request reached) before it ends, and loads every part once at
// start. A provider makes no write calls beside its mutations, none can be
// forgotten, and a new field in a provider type is stored without a
// migration. The price is that a save encodes the whole part to find what
// changed: some 10 µs per stored object, so about 10 ms on each Klarna call
// once a thousand sessions are stored. That suits a sandbox (tests start
// empty, POST /control/reset empties it); one that must hold far more would
// mark changed objects instead.
//
// The file is the sandbox's alone: its own schema and goose migrations
// (embedded here), its own connection, never the shop's tables; it is
// created 0600, since it holds tokens and signing keys. One sandbox process
// uses a data dir at a time.
package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // the pure-Go "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// FileName is the store's file in the data dir.
const FileName = "sandbox.db"

// Object is one stored object of a part.
type Object struct {
	Kind  string // the part's name for its type: "payment", "session", ...
	ID    string
	Value any // stored as its JSON encoding
}

// Loaded is what the file holds for one part: kind -> id -> JSON.
type Loaded map[string]map[string]json.RawMessage

type rowKey struct{ part, kind, id string }

// Store is the sandbox's SQLite file. Safe for concurrent use.
type Store struct {
	db   *sql.DB
	path string

	mu    sync.Mutex
	saved map[rowKey][sha256.Size]byte // every row in the file, by the hash of its body
}

// Open opens (creating when missing) the store in dir and migrates it.
func Open(ctx context.Context, dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("sandbox store: no data dir")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sandbox store: data dir: %w", err)
	}
	path := filepath.Join(dir, FileName)
	// Made 0600 before SQLite opens it: SQLite creates the -wal and -shm
	// files with the database file's mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sandbox store: %w", err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("sandbox store: %w", err)
	}
	q := url.Values{"_txlock": {"immediate"}}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(NORMAL)", "busy_timeout(5000)"} {
		q.Add("_pragma", p)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sandbox store: open %s: %w", path, err)
	}
	// One connection: the sandbox saves one request at a time anyway.
	db.SetMaxOpenConns(1)
	s := &Store{db: db, path: path, saved: map[rowKey][sha256.Size]byte{}}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.db, sub)
	if err != nil {
		return fmt.Errorf("sandbox store: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sandbox store: migrate %s: %w", s.path, err)
	}
	return nil
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// DB is the file's connection, for the tables other packages own (package
// exchanges' log). It is the one connection: hold no rows or transaction
// open while waiting for anything else.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// Load returns what the file holds for part.
func (s *Store) Load(ctx context.Context, part string) (Loaded, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows, err := s.db.QueryContext(ctx, `SELECT kind, id, body FROM objects WHERE part = ?`, part)
	if err != nil {
		return nil, fmt.Errorf("sandbox store: load %s: %w", part, err)
	}
	defer rows.Close()
	out := Loaded{}
	for rows.Next() {
		var kind, id string
		var body []byte
		if err := rows.Scan(&kind, &id, &body); err != nil {
			return nil, fmt.Errorf("sandbox store: load %s: %w", part, err)
		}
		if out[kind] == nil {
			out[kind] = map[string]json.RawMessage{}
		}
		out[kind][id] = body
		s.saved[rowKey{part, kind, id}] = sha256.Sum256(body)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sandbox store: load %s: %w", part, err)
	}
	return out, nil
}

// Save makes the file hold exactly the objects given for each part in
// parts: it writes the objects that changed since the last Load or Save and
// deletes those that are gone, in one transaction. Parts not in parts are
// left as they are.
func (s *Store) Save(ctx context.Context, parts map[string][]Object) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	type row struct {
		key  rowKey
		body []byte
		sum  [sha256.Size]byte
	}
	var writes []row
	seen := map[rowKey]bool{}
	for part, objs := range parts {
		for _, o := range objs {
			k := rowKey{part, o.Kind, o.ID}
			body, err := json.Marshal(o.Value)
			if err != nil {
				return fmt.Errorf("sandbox store: encode %s %s %s: %w", part, o.Kind, o.ID, err)
			}
			seen[k] = true
			if sum := sha256.Sum256(body); s.saved[k] != sum {
				writes = append(writes, row{k, body, sum})
			}
		}
	}
	var gone []rowKey
	for k := range s.saved {
		if _, ok := parts[k.part]; ok && !seen[k] {
			gone = append(gone, k)
		}
	}
	if len(writes) == 0 && len(gone) == 0 {
		return nil
	}
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, w := range writes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO objects (part, kind, id, body) VALUES (?, ?, ?, ?)
				ON CONFLICT (part, kind, id) DO UPDATE SET body = excluded.body`, w.key.part, w.key.kind, w.key.id, string(w.body)); err != nil {
				return err
			}
		}
		for _, k := range gone {
			if _, err := tx.ExecContext(ctx, `DELETE FROM objects WHERE part = ? AND kind = ? AND id = ?`, k.part, k.kind, k.id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sandbox store: save: %w", err)
	}
	for _, w := range writes {
		s.saved[w.key] = w.sum
	}
	for _, k := range gone {
		delete(s.saved, k)
	}
	return nil
}

// Forget deletes every stored object of every part, the providers' that
// are not emulated now included.
func (s *Store) Forget(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM objects`); err != nil {
		return fmt.Errorf("sandbox store: forget: %w", err)
	}
	clear(s.saved)
	return nil
}

func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Encoded returns objs with each value already in its JSON encoding. A
// part's Dump returns it while it still holds its lock: the values point
// into live objects that the next request may change, so they must be read
// before the lock goes, not when Save writes them later.
func Encoded(objs []Object) []Object {
	for i, o := range objs {
		body, err := json.Marshal(o.Value)
		if err != nil {
			objs[i].Value = unencodable{err}
			continue
		}
		objs[i].Value = json.RawMessage(body)
	}
	return objs
}

// unencodable carries an encoding failure to Save, which reports it.
type unencodable struct{ err error }

func (u unencodable) MarshalJSON() ([]byte, error) { return nil, u.err }

// All returns every value of m as objects of kind, by their keys.
func All[T any](kind string, m map[string]T) []Object {
	out := make([]Object, 0, len(m))
	for id, v := range m {
		out = append(out, Object{Kind: kind, ID: id, Value: v})
	}
	return out
}

// Decode returns every loaded object of kind decoded as a T, by id. A
// failure goes to *err, and once *err is set Decode and One do nothing: a
// Restore decodes each of its kinds, then checks err once.
func Decode[T any](l Loaded, kind string, err *error) map[string]T {
	out := make(map[string]T, len(l[kind]))
	for id, raw := range l[kind] {
		var v T
		if !decode(raw, &v, kind, id, err) {
			return nil
		}
		out[id] = v
	}
	return out
}

// One decodes the loaded object kind/id into v and reports whether there was
// one, on Decode's terms.
func One(l Loaded, kind, id string, v any, err *error) bool {
	raw, ok := l[kind][id]
	return ok && decode(raw, v, kind, id, err)
}

func decode(raw json.RawMessage, v any, kind, id string, err *error) bool {
	if *err != nil {
		return false
	}
	if e := json.Unmarshal(raw, v); e != nil {
		*err = fmt.Errorf("sandbox store: %s %q: %w", kind, id, e)
		return false
	}
	return true
}
