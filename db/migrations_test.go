package db

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"
)

// migratedTo opens a database in a temp dir migrated up to version only,
// as a shop of that version left it.
func migratedTo(t *testing.T, version int64) (*sql.DB, *goose.Provider) {
	t.Helper()
	d, err := sql.Open("sqlite", dsn(filepath.Join(t.TempDir(), "refshop.db")))
	if err != nil {
		t.Fatal(err)
	}
	d.SetMaxOpenConns(1)
	t.Cleanup(func() { d.Close() })
	p, err := goose.NewProvider(goose.DialectSQLite3, d, mustSub(migrations, "migrations"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), version); err != nil {
		t.Fatal(err)
	}
	return d, p
}

func execAll(t *testing.T, d *sql.DB, stmts ...string) {
	t.Helper()
	for _, q := range stmts {
		if _, err := d.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// Carts that already have several open attempts for one method keep the
// newest open; the others are closed and marked for release, so the unique
// index can be made.
func TestOpenAttemptsMigrationClosesAllButTheNewest(t *testing.T) {
	d, p := migratedTo(t, 7)
	execAll(t, d,
		`INSERT INTO carts(id, updated_at) VALUES (1, 'now'), (2, 'now')`,
		`INSERT INTO orders(id, public_id, guest_id, cart_id, status, provider, idempotency_key, currency, total_amount, tax_amount, created_at, updated_at) VALUES
			(1, 'a', 'g', 1, 'pending',  'altpay', 'k1', 'EUR', 1, 0, 't', 't'),
			(2, 'b', 'g', 1, 'pending',  'altpay', 'k2', 'EUR', 1, 0, 't', 't'),
			(3, 'c', 'g', 1, 'pending',  'altpay', 'k3', 'EUR', 1, 0, 't', 't'),
			(4, 'd', 'g', 1, 'pending',  'vipps',  'k4', 'EUR', 1, 0, 't', 't'),
			(5, 'e', 'g', 1, 'captured', 'altpay', 'k5', 'EUR', 1, 0, 't', 't'),
			(6, 'f', 'g', 2, 'pending',  'altpay', 'k6', 'EUR', 1, 0, 't', 't'),
			(7, 'h', 'g', NULL, 'pending', 'altpay', 'k7', 'EUR', 1, 0, 't', 't'),
			(8, 'i', 'g', NULL, 'pending', 'altpay', 'k8', 'EUR', 1, 0, 't', 't')`)
	if _, err := p.Up(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := map[int64]struct {
		status  string
		release int
	}{1: {"cancelled", 1}, 2: {"cancelled", 1}, 3: {"pending", 0}, 4: {"pending", 0}, 5: {"captured", 0},
		6: {"pending", 0}, 7: {"pending", 0}, 8: {"pending", 0}}
	rows, err := d.Query(`SELECT id, status, release_due FROM orders ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var status string
		var release int
		if err := rows.Scan(&id, &status, &release); err != nil {
			t.Fatal(err)
		}
		if w := want[id]; w.status != status || w.release != release {
			t.Errorf("order %d: %s, release_due %d; want %s, %d", id, status, release, w.status, w.release)
		}
		delete(want, id)
	}
	if err := rows.Err(); err != nil || len(want) != 0 {
		t.Fatalf("orders not seen: %v (%v)", want, err)
	}
}

// Rows from before environments are kept under the unknown environment "",
// which the shop never sends anywhere, with the key their invoice was made with.
func TestAltpayMigrationKeepsOldRowsUnderNoEnvironment(t *testing.T) {
	d, p := migratedTo(t, 10)
	execAll(t, d,
		`INSERT INTO users(id, email, created_at) VALUES (1, 'a@example.com', 't')`,
		`INSERT INTO orders(id, public_id, user_id, provider, idempotency_key, currency, total_amount, tax_amount, created_at, updated_at)
			VALUES (1, 'a', 1, 'altpay', 'order-a', 'EUR', 1, 0, 't', 't')`,
		`INSERT INTO altpay_customers(user_id, external_id, customer_id, created_at, updated_at) VALUES (1, 'refshop-x', 'cus_1', 't', 't')`,
		`INSERT INTO altpay_invoices(order_id, customer_id, invoice_id, status, checked_at, created_at) VALUES (1, 'cus_1', 'inv_1', 'UPCOMING', 't', 't')`)
	if _, err := p.Up(t.Context()); err != nil {
		t.Fatal(err)
	}
	var env, cus, key, inv string
	if err := d.QueryRow(`SELECT environment, customer_id FROM altpay_customers WHERE user_id = 1`).Scan(&env, &cus); err != nil || env != "" || cus != "cus_1" {
		t.Errorf("customer: %q %q, %v", env, cus, err)
	}
	if err := d.QueryRow(`SELECT environment, idempotency_key, invoice_id FROM altpay_invoices WHERE order_id = 1`).Scan(&env, &key, &inv); err != nil ||
		env != "" || key != "invoice-order-a" || inv != "inv_1" {
		t.Errorf("invoice: %q %q %q, %v", env, key, inv, err)
	}
	if _, err := p.DownTo(t.Context(), 10); err != nil {
		t.Fatalf("down: %v", err)
	}
}

// Klarna links, Sign in with Klarna identities and grants, and Vipps payments
// from before environments are kept under the unknown environment "", which
// the shop never sends anywhere; the grant still belongs to its identity.
func TestProviderEnvironmentsMigrationKeepsOldRowsUnderNoEnvironment(t *testing.T) {
	d, p := migratedTo(t, 12)
	execAll(t, d,
		`INSERT INTO users(id, email, created_at) VALUES (1, 'a@example.com', 't')`,
		`INSERT INTO orders(id, public_id, user_id, provider, idempotency_key, currency, total_amount, tax_amount, created_at, updated_at)
			VALUES (1, 'a', 1, 'vipps', 'order-a', 'EUR', 1, 0, 't', 't')`,
		`INSERT INTO klarna_links(user_id, token_sealed, token_hint, version, updated_at) VALUES (1, 'sealed', '••••abcd', 3, 't')`,
		`INSERT INTO klarna_identities(user_id, sub, connected_at) VALUES (1, 'krn:kuid:a', 't')`,
		`INSERT INTO klarna_grants(user_id, version, refresh_token, updated_at) VALUES (1, 2, 'sealed-rt', 't')`,
		`INSERT INTO vipps_payments(order_id, reference, create_key, capture_key, cancel_key, settle_after, created_at)
			VALUES (1, 'refshop-a', 'c', 'p', 'x', 't', 't')`)
	if _, err := p.Up(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`SELECT environment FROM klarna_links WHERE user_id = 1 AND token_sealed = 'sealed' AND version = 3`,
		`SELECT issuer FROM klarna_identities WHERE user_id = 1 AND sub = 'krn:kuid:a'`,
		`SELECT issuer FROM klarna_grants WHERE user_id = 1 AND refresh_token = 'sealed-rt' AND version = 2`,
		`SELECT environment FROM vipps_payments WHERE order_id = 1 AND reference = 'refshop-a'`,
	} {
		var env string
		if err := d.QueryRow(q).Scan(&env); err != nil || env != "" {
			t.Errorf("%s: %q, %v; want the row kept under \"\"", q, env, err)
		}
	}
	if _, err := p.DownTo(t.Context(), 12); err != nil {
		t.Fatalf("down: %v", err)
	}
	var n int
	if err := d.QueryRow(`SELECT count(*) FROM klarna_grants g JOIN klarna_identities i USING (user_id)
		JOIN klarna_links USING (user_id)`).Scan(&n); err != nil || n != 1 {
		t.Errorf("after down: %d linked grants, %v; want the one", n, err)
	}
	if _, err := p.Up(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The grant goes with its identity.
	execAll(t, d, `DELETE FROM klarna_identities WHERE user_id = 1`)
	if err := d.QueryRow(`SELECT count(*) FROM klarna_grants`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d grants left after their identity went (%v)", n, err)
	}
}

// Klarna payment attempts from before environments are kept under the
// unknown environment "", which the shop never sends anywhere.
func TestKlarnaPaymentEnvironmentMigrationKeepsOldAttemptsUnderNoEnvironment(t *testing.T) {
	d, p := migratedTo(t, 13)
	execAll(t, d,
		`INSERT INTO orders(id, public_id, guest_id, provider, idempotency_key, currency, total_amount, tax_amount, created_at, updated_at)
			VALUES (1, 'a', 'g', 'klarna', 'order-a', 'EUR', 1, 0, 't', 't')`,
		`INSERT INTO klarna_payments(order_id, kind, session_id, created_at) VALUES (1, 'widget', 's-a', 't')`)
	if _, err := p.Up(t.Context()); err != nil {
		t.Fatal(err)
	}
	var env string
	if err := d.QueryRow(`SELECT environment FROM klarna_payments WHERE order_id = 1 AND session_id = 's-a'`).Scan(&env); err != nil || env != "" {
		t.Errorf("the old attempt: %q, %v; want it kept under \"\"", env, err)
	}
	if _, err := p.DownTo(t.Context(), 13); err != nil {
		t.Fatalf("down: %v", err)
	}
	var n int
	if err := d.QueryRow(`SELECT count(*) FROM klarna_payments WHERE session_id = 's-a'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("after down: %d attempts, %v; want the one", n, err)
	}
}

// The back office's operations are kept through the rebuild that adds the
// Klarna kinds and the form and sweep columns (due at once, no tries); the
// unused Vipps capture key goes, and comes back empty on the way down.
func TestAdminOperationsMigrationKeepsTheOperations(t *testing.T) {
	d, p := migratedTo(t, 21)
	execAll(t, d,
		`INSERT INTO orders(id, public_id, guest_id, provider, idempotency_key, currency, total_amount, tax_amount, created_at, updated_at)
			VALUES (1, 'a', 'g', 'vipps', 'order-a', 'NOK', 100, 0, 't', 't')`,
		`INSERT INTO vipps_payments(order_id, environment, reference, create_key, capture_key, cancel_key, settle_after, created_at)
			VALUES (1, 'e', 'refshop-a', 'c', 'p', 'x', 't', 't')`,
		`INSERT INTO order_operations(id, order_id, kind, amount, currency, idempotency_key, state, before_amount, created_at, updated_at)
			VALUES (7, 1, 'capture', 100, 'NOK', 'k-1', 'unknown', 0, 't1', 't2')`)
	if _, err := p.UpTo(t.Context(), 23); err != nil {
		t.Fatal(err)
	}
	var kind, state, form, next string
	var tries int
	if err := d.QueryRow(`SELECT kind, state, form_key, settle_tries, next_try_at FROM order_operations WHERE id = 7 AND idempotency_key = 'k-1'`).
		Scan(&kind, &state, &form, &tries, &next); err != nil || kind != "capture" || state != "unknown" || form != "k-1" || tries != 0 || next != "t2" {
		t.Errorf("the operation: %s %s %q %d %q, %v", kind, state, form, tries, next, err)
	}
	execAll(t, d, `INSERT INTO order_operations(order_id, kind, amount, currency, idempotency_key, state, before_amount, next_try_at, created_at, updated_at)
			VALUES (1, 'extend', 0, 'NOK', 'k-2', 'done', 0, 't', 't', 't')`)
	if _, err := d.Exec(`INSERT INTO order_operations(order_id, kind, amount, currency, idempotency_key, state, before_amount, next_try_at, created_at, updated_at)
			VALUES (1, 'capture', 1, 'NOK', 'k-3', 'sent', 0, 't', 't', 't')`); err == nil {
		t.Error("a second operation in flight on one order was stored")
	}
	if _, err := d.Exec(`SELECT capture_key FROM vipps_payments`); err == nil {
		t.Error("vipps_payments.capture_key is still there")
	}
	if _, err := p.DownTo(t.Context(), 21); err != nil {
		t.Fatalf("down: %v", err)
	}
	var n int
	if err := d.QueryRow(`SELECT count(*) FROM order_operations WHERE id = 7`).Scan(&n); err != nil || n != 1 {
		t.Errorf("after down: %d of the capture, %v", n, err)
	}
}

// An operation in flight before 00023 gets a page key (its idempotency
// key), so the order's page offers its retry and the retry is recognized
// as the same operation. Down is refused while a release or an extension
// (kinds the old table cannot hold) is in flight, and changes nothing; once
// it is settled, down runs.
func TestAdminOperationsMigrationEdges(t *testing.T) {
	d, p := migratedTo(t, 21)
	execAll(t, d,
		`INSERT INTO orders(id, public_id, guest_id, provider, idempotency_key, currency, total_amount, tax_amount, created_at, updated_at)
			VALUES (1, 'a', 'g', 'klarna', 'order-a', 'EUR', 100, 0, 't', 't'), (2, 'b', 'g', 'klarna', 'order-b', 'EUR', 100, 0, 't', 't')`,
		`INSERT INTO order_operations(id, order_id, kind, amount, currency, idempotency_key, state, before_amount, created_at, updated_at)
			VALUES (7, 1, 'capture', 100, 'EUR', 'k-1', 'unknown', 0, 't1', 't2')`)
	if _, err := p.UpTo(t.Context(), 23); err != nil {
		t.Fatal(err)
	}
	var form string
	if err := d.QueryRow(`SELECT form_key FROM order_operations WHERE id = 7`).Scan(&form); err != nil || form != "k-1" {
		t.Errorf("the operation in flight has page key %q (%v), want its idempotency key", form, err)
	}
	execAll(t, d, `INSERT INTO order_operations(id, order_id, kind, amount, currency, idempotency_key, state, before_amount, form_key,
			next_try_at, created_at, updated_at) VALUES (8, 2, 'extend', 0, 'EUR', 'k-2', 'unknown', 0, 'f', 't', 't', 't')`)
	if _, err := p.DownTo(t.Context(), 21); err == nil || !strings.Contains(err.Error(), "release_or_extend_in_flight_settle_it_before_migrating_down") {
		t.Fatalf("down while an extension was in flight: %v, want refused saying why", err)
	}
	var n int
	if err := d.QueryRow(`SELECT count(*) FROM order_operations WHERE id IN (7, 8)`).Scan(&n); err != nil || n != 2 {
		t.Errorf("after the refused down: %d of the two operations, %v", n, err)
	}
	if v, err := p.GetDBVersion(t.Context()); err != nil || v < 23 {
		t.Errorf("version %d after the refused down (%v), want 23 or later", v, err)
	}
	execAll(t, d, `UPDATE order_operations SET state = 'undetermined' WHERE id = 8`)
	if _, err := p.DownTo(t.Context(), 21); err != nil {
		t.Fatalf("down once the extension is settled: %v", err)
	}
	if err := d.QueryRow(`SELECT count(*) FROM order_operations WHERE id = 7 AND state = 'unknown'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("after down: %d of the capture in flight, %v", n, err)
	}
}
