package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"refshop/db"
	"refshop/db/dbtest"
	"refshop/web/config"
	"refshop/web/secret"
)

const adminPassword = "a long admin password"

func adminConfig(t *testing.T, email string) config.Config {
	t.Helper()
	env := map[string]string{"SHOP_ADMIN_EMAIL": email, "SHOP_ADMIN_PASSWORD": adminPassword}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestAdminFromEnvCreatesTheAccountOnce(t *testing.T) {
	store := db.NewStore(dbtest.Open(t), nil)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := adminConfig(t, "boss@example.com")
	if err := adminFromEnv(t.Context(), cfg, store, log, bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	u, err := store.UserByEmail(t.Context(), "boss@example.com")
	if err != nil || !u.IsAdmin() || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(adminPassword)) != nil {
		t.Fatalf("administrator %+v, %v: want an admin signing in with the password", u, err)
	}
	// The next start keeps it as it is, even when the variable's password changed.
	cfg.Admin.Password = secret.New("another long password")
	if err := adminFromEnv(t.Context(), cfg, store, log, bcrypt.MinCost); err != nil {
		t.Fatalf("second start: %v", err)
	}
	again, _ := store.UserByEmail(t.Context(), "boss@example.com")
	if again.ID != u.ID || again.PasswordHash != u.PasswordHash {
		t.Fatal("an existing administrator was changed at start")
	}
	if strings.Contains(logs.String(), adminPassword) {
		t.Fatal("the password reached the log")
	}
}

func TestAdminFromEnvRefusesACustomersEmail(t *testing.T) {
	store := db.NewStore(dbtest.Open(t), nil)
	if _, err := store.CreateUser(t.Context(), "tess@example.com", "Tess", "hash"); err != nil {
		t.Fatal(err)
	}
	err := adminFromEnv(t.Context(), adminConfig(t, "tess@example.com"), store, slog.New(slog.DiscardHandler), bcrypt.MinCost)
	if !errors.Is(err, errCustomerEmail) || !strings.Contains(err.Error(), "SHOP_ADMIN_EMAIL") {
		t.Fatalf("got %v, want the customer's email refused naming SHOP_ADMIN_EMAIL", err)
	}
	if u, _ := store.UserByEmail(t.Context(), "tess@example.com"); u.IsAdmin() {
		t.Fatal("the customer was promoted")
	}
}

// The shop refuses to start (before it listens) when the variable names a
// customer's account.
func TestShopDoesNotStartWhenTheAdminEmailIsACustomers(t *testing.T) {
	dir := t.TempDir()
	database, err := db.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewStore(database, nil).CreateUser(t.Context(), "tess@example.com", "", "hash"); err != nil {
		t.Fatal(err)
	}
	database.Close()
	env := map[string]string{"SHOP_DATA_DIR": dir, "SHOP_ADDR": "localhost:0", "SANDBOX_ADDR": "off",
		"SHOP_ADMIN_EMAIL": "tess@example.com", "SHOP_ADMIN_PASSWORD": adminPassword,
		"KLARNA_API_URL": "https://k.example", "KLARNA_LOGIN_URL": "https://l.example", "KLARNA_SDK_URL": "https://s.example/api.js",
		"KLARNA_NA_API_URL": "https://kna.example", "VIPPS_API_URL": "https://v.example", "ALTPAY_API_URL": "https://a.example",
		"SHOP_BASE_URL": "https://shop.example"}
	for _, k := range []string{"KLARNA_USERNAME", "KLARNA_PASSWORD", "KLARNA_CLIENT_ID", "KLARNA_CLIENT_SECRET", "KLARNA_NA_USERNAME",
		"KLARNA_NA_PASSWORD", "VIPPS_CLIENT_ID", "VIPPS_CLIENT_SECRET", "VIPPS_SUBSCRIPTION_KEY", "VIPPS_MSN", "ALTPAY_CLIENT_ID", "ALTPAY_CLIENT_SECRET"} {
		env[k] = config.Defaults[k]
	}
	var stdout bytes.Buffer
	err = run(context.Background(), func(k string) string { return env[k] }, &stdout, io.Discard)
	if !errors.Is(err, errCustomerEmail) || !strings.Contains(err.Error(), "SHOP_ADMIN_EMAIL") {
		t.Fatalf("run: %v, want a refusal naming SHOP_ADMIN_EMAIL", err)
	}
	if strings.Contains(stdout.String(), "Refshop is running") {
		t.Fatal("the shop started")
	}
}

func TestAdminCommandReadsThePasswordFromStdin(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"SHOP_DATA_DIR": dir}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	err := runAdmin(t.Context(), []string{"-email", "boss@example.com"}, getenv, strings.NewReader(adminPassword+"\n"), &out, bcrypt.MinCost)
	if err != nil || !strings.Contains(out.String(), "Created the administrator boss@example.com") {
		t.Fatalf("admin: %v: %s", err, out.String())
	}
	if strings.Contains(out.String(), adminPassword) {
		t.Fatal("the command printed the password")
	}
	// Again: kept; a customer's email: refused; a short password: refused.
	out.Reset()
	if err := runAdmin(t.Context(), []string{"-email", "boss@example.com"}, getenv, strings.NewReader(adminPassword), &out, bcrypt.MinCost); err != nil ||
		!strings.Contains(out.String(), "already an administrator") {
		t.Fatalf("second run: %v: %s", err, out.String())
	}
	database, err := db.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	store := db.NewStore(database, nil)
	if u, err := store.UserByEmail(t.Context(), "boss@example.com"); err != nil || !u.IsAdmin() {
		t.Fatalf("stored %+v, %v", u, err)
	}
	if _, err := store.CreateUser(t.Context(), "tess@example.com", "", "hash"); err != nil {
		t.Fatal(err)
	}
	database.Close()
	err = runAdmin(t.Context(), []string{"-email", "tess@example.com"}, getenv, strings.NewReader(adminPassword+"\n"), io.Discard, bcrypt.MinCost)
	if !errors.Is(err, errCustomerEmail) {
		t.Fatalf("a customer's email: %v", err)
	}
	err = runAdmin(t.Context(), []string{"-email", "new@example.com"}, getenv, strings.NewReader("short\n"), io.Discard, bcrypt.MinCost)
	if err == nil || !strings.Contains(err.Error(), "at least 10 characters") {
		t.Fatalf("a short password: %v", err)
	}
	err = runAdmin(t.Context(), []string{"-email", "new@example.com", adminPassword}, getenv, strings.NewReader(""), io.Discard, bcrypt.MinCost)
	if err == nil || !strings.Contains(err.Error(), "never from the command line") {
		t.Fatalf("a password as an argument: %v", err)
	}
}
