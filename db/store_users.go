package db

import (
	"context"
	"database/sql"
	"errors"
	"strings"
)

var (
	// ErrNotFound: no such row (or not the caller's).
	ErrNotFound = errors.New("db: not found")
	// ErrEmailTaken: an account with that email exists.
	ErrEmailTaken = errors.New("db: email taken")
	// ErrStale: a compare-and-swap lost to another writer.
	ErrStale = errors.New("db: row changed by another request")
)

// CheckKey stores fingerprint the first time and afterwards reports whether it
// matches, so a changed secret key stops the shop at start.
func (s *Store) CheckKey(ctx context.Context, fingerprint string) (bool, error) {
	_, err := s.db.Write.ExecContext(ctx,
		`INSERT INTO meta(name, value) VALUES('key_fingerprint', ?) ON CONFLICT(name) DO NOTHING`, fingerprint)
	if err != nil {
		return false, err
	}
	var stored string
	err = s.db.Write.QueryRowContext(ctx, `SELECT value FROM meta WHERE name = 'key_fingerprint'`).Scan(&stored)
	return stored == fingerprint, err
}

// User is a shop account.
type User struct {
	ID           int64
	Email        string
	Name         string
	PasswordHash string // "" for accounts without a password
}

// CreateUser inserts a user; ErrEmailTaken when the email exists.
func (s *Store) CreateUser(ctx context.Context, email, name, passwordHash string) (User, error) {
	var hash any
	if passwordHash != "" {
		hash = passwordHash
	}
	res, err := s.db.Write.ExecContext(ctx,
		`INSERT INTO users(email, name, password_hash, created_at) VALUES(?, ?, ?, ?)`,
		email, name, hash, s.now())
	if err != nil {
		if isUniqueViolation(err) {
			return User{}, ErrEmailTaken
		}
		return User{}, err
	}
	id, _ := res.LastInsertId()
	return User{ID: id, Email: email, Name: name, PasswordHash: passwordHash}, nil
}

// UserByEmail finds a user by email, ignoring case.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	return s.scanUser(s.db.Read.QueryRowContext(ctx,
		`SELECT id, email, name, COALESCE(password_hash, '') FROM users WHERE email = ?`, email))
}

// UserByID finds a user by id.
func (s *Store) UserByID(ctx context.Context, id int64) (User, error) {
	return s.scanUser(s.db.Read.QueryRowContext(ctx,
		`SELECT id, email, name, COALESCE(password_hash, '') FROM users WHERE id = ?`, id))
}

func (s *Store) scanUser(row *sql.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	return u, err
}

func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
