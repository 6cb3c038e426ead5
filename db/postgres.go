package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// PostgreSQL has its own migration set, starting from the schema the SQLite
// set had reached when PostgreSQL came (version 26): the SQLite history
// rebuilds tables in SQLite's way and was never run on PostgreSQL. A later
// migration comes in both sets under one number.
//
//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// IsPostgresURL reports whether a DATABASE_URL names a PostgreSQL server
// (the shop's only other database).
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// OpenURL opens the database a DATABASE_URL names, or the SQLite file in
// dataDir when it is empty. An error names the variable, with the password
// redacted.
func OpenURL(ctx context.Context, databaseURL, dataDir string) (*DB, error) {
	if databaseURL == "" {
		return Open(ctx, dataDir)
	}
	if !IsPostgresURL(databaseURL) {
		return nil, fmt.Errorf("DATABASE_URL %s: want postgres://… or postgresql://… (leave it unset for SQLite in SHOP_DATA_DIR)", RedactURL(databaseURL))
	}
	db, err := OpenPostgres(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL %s: %s", RedactURL(databaseURL), scrubPassword(err.Error(), databaseURL))
	}
	return db, nil
}

// OpenPostgres connects a pool to the PostgreSQL database dsn names, checks
// that it answers, and migrates it. Every instance of the shop may start at
// once: the migrations run under a session advisory lock, so one applies
// them and the others find them applied.
func OpenPostgres(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	// One pool for reads and writes: PostgreSQL has no single writer to
	// queue for. The store keeps writing SQLite's ? placeholders.
	d := sql.OpenDB(rebindConnector{stdlib.GetPoolConnector(pool)})
	db := &DB{Write: d, Read: d, Pool: pool, dialect: dialectPostgres}
	if err := migratePostgres(ctx, pool); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// migratePostgres runs the migrations through a plain pgx database/sql
// handle on the pool: goose writes PostgreSQL's own SQL and booleans.
func migratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	plain := stdlib.OpenDBFromPool(pool)
	defer plain.Close()
	// The lock is per schema, so databases in different schemas of one
	// server (the tests') migrate side by side.
	var schema string
	if err := plain.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("db: migrations: %w", err)
	}
	h := fnv.New64a()
	h.Write([]byte("refshop migrations " + schema))
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64())), lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("db: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, plain, mustSub(postgresMigrations, "migrations/postgres"),
		goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("db: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("db: migrate: %w", err)
	}
	return nil
}

// RedactURL is a database URL fit for a log or an error: its password
// replaced (the user, host and database help whoever reads it).
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(not a URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// scrubPassword removes dsn's password from a driver's message, whatever
// the driver chose to quote.
func scrubPassword(msg, dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(the driver's message is withheld: it may quote the URL)"
	}
	pw, _ := u.User.Password()
	if pw == "" {
		pw = u.Query().Get("password")
	}
	if pw != "" {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
		msg = strings.ReplaceAll(msg, url.QueryEscape(pw), "xxxxx")
		msg = strings.ReplaceAll(msg, url.PathEscape(pw), "xxxxx")
	}
	return msg
}

// rebindConnector hands database/sql pgx connections that take the store's
// ? placeholders: every query goes through rebind on its way in.
type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc, ok := conn.(*stdlib.Conn)
	if !ok {
		conn.Close()
		return nil, errors.New("db: the pgx connector returned an unexpected connection")
	}
	return rebindConn{pc}, nil
}

// rebindConn is a pgx connection (transactions, pings, resets and value
// checks are its own) whose queries are rebound.
type rebindConn struct{ *stdlib.Conn }

func (c rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.Conn.Prepare(rebind(query))
}

func (c rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(query))
}

func (c rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(query), boolsAsIntegers(args))
}

func (c rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(query), boolsAsIntegers(args))
}

// boolsAsIntegers passes a Go bool as 1 or 0, as SQLite stores it: the
// schema's flags are integers on both databases (scanning one into a bool
// works on both).
func boolsAsIntegers(args []driver.NamedValue) []driver.NamedValue {
	for i, a := range args {
		if b, ok := a.Value.(bool); ok {
			args[i].Value = int64(0)
			if b {
				args[i].Value = int64(1)
			}
		}
	}
	return args
}

// rebind turns SQLite's placeholders into PostgreSQL's: ? is the next
// number after the largest so far (SQLite's rule), ?N is $N. A ? inside a
// string literal, a quoted identifier or a comment is left alone.
func rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	highest := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			end := i + 1
			for end < len(query) {
				if query[end] == c {
					if end+1 < len(query) && query[end+1] == c { // a doubled quote inside
						end += 2
						continue
					}
					break
				}
				end++
			}
			end = min(end, len(query)-1)
			b.WriteString(query[i : end+1])
			i = end
		case c == '-' && strings.HasPrefix(query[i:], "--"):
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				end = len(query) - i - 1
			}
			b.WriteString(query[i : i+end+1])
			i += end
		case c == '/' && strings.HasPrefix(query[i:], "/*"):
			end := strings.Index(query[i+2:], "*/")
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+2+end+2])
			i += 2 + end + 1
		case c == '?':
			j := i + 1
			for j < len(query) && query[j] >= '0' && query[j] <= '9' {
				j++
			}
			n := highest + 1
			if j > i+1 {
				fmt.Sscan(query[i+1:j], &n)
			}
			highest = max(highest, n)
			fmt.Fprintf(&b, "$%d", n)
			i = j - 1
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
