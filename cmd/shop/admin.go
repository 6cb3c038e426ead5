package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"refshop/db"
	"refshop/web/config"
	"refshop/web/secret"
)

// errCustomerEmail refuses an administrator whose email belongs to a
// customer's account: the shop never promotes an account, because whoever
// signed up with that email may not be the shop's administrator.
var errCustomerEmail = errors.New("a customer's account already has this email; the shop never makes an existing account an administrator (whoever signed up with it may not be you): choose another email")

// ensureAdmin makes an administrator's account for email unless one exists:
// created reports whether it made one; an administrator already there is
// kept as it is (its password too); a customer's account is refused
// (errCustomerEmail). The password is hashed with bcrypt at cost and never
// logged.
func ensureAdmin(ctx context.Context, store *db.Store, email string, password secret.Secret, cost int) (created bool, err error) {
	for range 2 { // a second look when someone takes the email between the two steps
		u, err := store.UserByEmail(ctx, email)
		switch {
		case err == nil && u.IsAdmin():
			return false, nil
		case err == nil:
			return false, errCustomerEmail
		case !errors.Is(err, db.ErrNotFound):
			return false, err
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(password.Reveal()), cost)
		if err != nil {
			return false, err
		}
		_, err = store.CreateAdmin(ctx, email, "", string(hash))
		if !errors.Is(err, db.ErrEmailTaken) {
			return err == nil, err
		}
	}
	return false, errors.New("the email was taken and released while the administrator was being created; try again")
}

// adminFromEnv creates the administrator SHOP_ADMIN_EMAIL names, if any,
// at start (ensureAdmin); a customer's email stops the shop, naming the
// variable.
func adminFromEnv(ctx context.Context, cfg config.Config, store *db.Store, log *slog.Logger, cost int) error {
	if cfg.Admin.Email == "" {
		return nil
	}
	created, err := ensureAdmin(ctx, store, cfg.Admin.Email, cfg.Admin.Password, cost)
	if err != nil {
		return fmt.Errorf("SHOP_ADMIN_EMAIL %s: %w", cfg.Admin.Email, err)
	}
	if created {
		log.Info("created the shop administrator from SHOP_ADMIN_EMAIL", "email", cfg.Admin.Email)
	}
	return nil
}

// runAdmin is `shop admin -email x@example.com`: it reads the password from
// the first line of stdin, creates the administrator's account in the
// shop's database (SHOP_DATA_DIR) and exits. It refuses a customer's email
// as the shop's start does.
func runAdmin(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer, cost int) error {
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	fs.SetOutput(stdout)
	email := fs.String("email", "", "the administrator's email (the password is read from the first line of stdin)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("admin: unexpected arguments %q: the password is read from stdin, never from the command line", fs.Args())
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("admin: reading the password from stdin: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	emailErr, passwordErr := config.CheckAdmin(*email, password)
	if err := errors.Join(prefixed("-email", emailErr), prefixed("password (stdin)", passwordErr)); err != nil {
		return fmt.Errorf("admin:\n%w", err)
	}
	cfg, database, err := openShop(ctx, getenv)
	if err != nil {
		return err
	}
	defer database.Close()
	created, err := ensureAdmin(ctx, db.NewStore(database, nil), *email, secret.New(password), cost)
	switch {
	case err != nil:
		return fmt.Errorf("admin %s: %w", *email, err)
	case created:
		fmt.Fprintf(stdout, "Created the administrator %s. Sign in at %s/signin; the back office is %s/admin.\n", *email, cfg.ShopBaseURL, cfg.ShopBaseURL)
	default:
		fmt.Fprintf(stdout, "%s is already an administrator; nothing changed (its password stays as it was).\n", *email)
	}
	return nil
}

func prefixed(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", name, err)
}
