package db

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrEmailTaken: an account with that email exists.
var ErrEmailTaken = errors.New("email taken")

// CheckKey stores fingerprint the first time and afterwards reports whether it
// matches, so a changed secret key stops the shop at start.
func (s *Store) CheckKey(ctx context.Context, fingerprint string) (_ bool, err error) {
	defer wrap(&err, "check key")
	_, err = s.db.Write.ExecContext(ctx,
		`INSERT INTO meta(name, value) VALUES('key_fingerprint', ?) ON CONFLICT(name) DO NOTHING`, fingerprint)
	if err != nil {
		return false, err
	}
	var stored string
	err = s.db.Write.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'key_fingerprint'`).Scan(&stored)
	return stored == fingerprint, err
}

// Role is what an account may do: a customer shops, an administrator also
// runs the back office (/admin).
type Role string

const (
	RoleCustomer Role = "customer"
	RoleAdmin    Role = "admin"
)

// User is a shop account.
type User struct {
	ID           int64
	Email        string
	Name         string
	PasswordHash string // "" for accounts without a password
	Role         Role
}

// IsAdmin reports whether the account runs the back office.
func (u User) IsAdmin() bool { return u.Role == RoleAdmin }

// CreateUser inserts a user; ErrEmailTaken when the email exists.
func (s *Store) CreateUser(ctx context.Context, email, name, passwordHash string) (_ User, err error) {
	defer wrap(&err, "create user")
	return s.insertUser(ctx, s.db.Write, email, name, passwordHash)
}

// CreateAdmin inserts an administrator's account; ErrEmailTaken when the
// email exists (an existing account is never promoted: whoever signed up
// with that email may not be the shop's administrator).
func (s *Store) CreateAdmin(ctx context.Context, email, name, passwordHash string) (_ User, err error) {
	defer wrap(&err, "create admin")
	if passwordHash == "" {
		return User{}, errors.New("an administrator needs a password")
	}
	return s.insertUserAs(ctx, s.db.Write, email, name, passwordHash, RoleAdmin)
}

// insertUser inserts a customer ("" passwordHash: an account without a
// password); ErrEmailTaken when the email exists.
func (s *Store) insertUser(ctx context.Context, ex execer, email, name, passwordHash string) (User, error) {
	return s.insertUserAs(ctx, ex, email, name, passwordHash, RoleCustomer)
}

func (s *Store) insertUserAs(ctx context.Context, ex execer, email, name, passwordHash string, role Role) (User, error) {
	var id int64
	err := ex.QueryRowContext(ctx, `INSERT INTO users(email, name, password_hash, role, created_at) VALUES(?, ?, ?, ?, ?) RETURNING id`,
		email, name, nullString(passwordHash), role, s.now()).Scan(&id)
	if isUniqueViolation(err) {
		return User{}, ErrEmailTaken
	}
	if err != nil {
		return User{}, err
	}
	return User{ID: id, Email: email, Name: name, PasswordHash: passwordHash, Role: role}, nil
}

const userColumns = `id, email, name, COALESCE(password_hash, ''), role`

// UserByEmail finds a user by email, ignoring case.
func (s *Store) UserByEmail(ctx context.Context, email string) (_ User, err error) {
	defer wrap(&err, "user by email")
	return scanUser(s.db.Read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
}

// UserByID finds a user by id.
func (s *Store) UserByID(ctx context.Context, id int64) (_ User, err error) {
	defer wrap(&err, "user by id")
	return scanUser(s.db.Read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

func scanUser(row *sql.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.Role)
	return u, noRows(err)
}

// isUniqueViolation reports whether a write broke a unique index or primary
// key, on either database.
func isUniqueViolation(err error) bool {
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		return lite.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || lite.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505" // unique_violation
}
