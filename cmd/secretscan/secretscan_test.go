package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"refshop/db/dbtest"
	"refshop/web/clock"
	"refshop/web/sandbox"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/store"
	"refshop/web/secret"
)

// The planted secrets of the fake data dir.
const (
	credName       = "VIPPS_CLIENT_SECRET"
	credValue      = "0123456789abcdef0123456789abcdef"
	customerToken  = "krn:partner:eu1:playground:identity:customer-token:5b3d2f6e-1d2c-4e0a-9d51-0c2f6a1b7e11"
	refreshToken   = "krn:login:eu1:refresh-token:6f1e2d3c4b5a69788796a5b4c3d2e1f0"
	landingToken   = "bGFuZGluZy10b2tlbi1mb3ItdGVzdHM"
	clientTokenVal = "eyJhbGciOiJIUzI1NiJ9.eyJzZXNzaW9uX2lkIjoiMSJ9.c2lnbmF0dXJlLW9mLXRoZS1jbGllbnQtdG9rZW4"
)

var checkoutKey = bytes.Repeat([]byte{7}, 32)

// hs256 signs a JWT the way the sandbox's HS256 signers do.
func hs256(key []byte, claims string) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil))
}

var checkoutToken = hs256(checkoutKey, `{"sub":"cus_1","invoice":"inv_1","exp":1900000000}`)

func env(name string) string {
	switch name {
	case "E2E_CREDENTIALS":
		return credName
	case "E2E_" + credName:
		return credValue
	}
	return ""
}

// fakeRun makes a data dir as a clean e2e run leaves it: a sandbox store
// holding secrets, a shop database, a log and pages, none of them holding a
// secret where it must not be.
func fakeRun(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Save(ctx, map[string][]store.Object{
		"klarna": {
			{Kind: "customer_token", ID: customerToken, Value: "link-1"},
			{Kind: "session", ID: "s1", Value: map[string]string{"ID": "s1", "ClientToken": clientTokenVal}},
		},
		"klarnasignin": {{Kind: "refresh_token", ID: refreshToken, Value: map[string]string{"Grant": "g1"}}},
		"vipps":        {{Kind: "payment", ID: "ref-1", Value: map[string]string{"LandingToken": landingToken}}},
		"altpay":       {{Kind: "key", ID: "checkout_token", Value: checkoutKey}},
	})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	db := shopDB(t, dir)
	defer db.Close()
	for _, q := range []string{
		`CREATE TABLE klarna_payments (order_id INTEGER, client_token TEXT)`,
		`CREATE TABLE vipps_payments (order_id INTEGER, redirect_url TEXT)`,
		`CREATE TABLE exchanges (id INTEGER, body TEXT)`,
		`CREATE TABLE sessions (token TEXT, data ` + map[bool]string{false: "BLOB", true: "BYTEA"}[postgres()] + `)`,
		// The browser kinds where the shop keeps them by design.
		`INSERT INTO klarna_payments VALUES (1, '` + clientTokenVal + `')`,
		`INSERT INTO vipps_payments VALUES (1, 'http://localhost:18081/vipps/landing?token=` + landingToken + `')`,
		`INSERT INTO exchanges VALUES (1, '{"client_token":"[redacted ` + secret.Tag(clientTokenVal) + `]"}')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(dir, logFile), "time=... level=INFO msg=\"klarna: customer token stored\" token=\""+secret.Tag(customerToken)+"\"\n")
	// A page may hold what the protocol hands the browser.
	write(t, filepath.Join(dir, pagesDir, "0001-checkout.html"), `<div data-client-token="`+clientTokenVal+`" data-checkout-token="`+checkoutToken+`"></div>`)
	write(t, filepath.Join(dir, pagesDir, "0002-account.html"), `<p>Linked: `+secret.Mask(customerToken)+`</p>`)
	return dir
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// The shop's database of a fake run: a SQLite file in the data dir, or,
// when the tests run on PostgreSQL (TEST_DATABASE_URL), a schema of the
// test's own there, which the scan is pointed at with -database.
var shopDatabases sync.Map // data dir → PostgreSQL URL

func postgres() bool { return dbtest.URL() != "" }

func shopDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	driver, dsn := "sqlite", "file:"+filepath.Join(dir, dbFile)
	if postgres() {
		u, ok := shopDatabases.Load(dir)
		if !ok {
			u = dbtest.Schema(t)
			shopDatabases.Store(dir, u)
		}
		driver, dsn = "pgx", u.(string)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// shopDBFile is how a report names the shop's database.
func shopDBFile() string {
	if postgres() {
		return postgresFile
	}
	return dbFile
}

func runScan(t *testing.T, dir string, getenv func(string) string) (int, string) {
	t.Helper()
	var out, errs bytes.Buffer
	args := []string{"-data", dir}
	if u, ok := shopDatabases.Load(dir); ok {
		args = append(args, "-database", u.(string))
	}
	code := run(context.Background(), args, getenv, &out, &errs)
	return code, out.String() + errs.String()
}

func TestCleanRunPasses(t *testing.T) {
	dir := fakeRun(t)
	code, out := runScan(t, dir, env)
	if code != 0 || !strings.Contains(out, "no secret found") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// Found: the credential, the customer token, the refresh token, the
	// landing token, the client token, the checkout key (and its signer).
	if !strings.Contains(out, "6 secrets and 1 signing keys") {
		t.Errorf("summary: %s", out)
	}
	// The page's browser tokens were recognised, not missed.
	if !strings.Contains(out, "altpay checkout token on pages (1 files)") || !strings.Contains(out, "klarna client_token on pages (1 files)") {
		t.Errorf("summary: %s", out)
	}
}

func TestPlantedSecretFails(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte("merchant-user:" + credValue))
	for _, tc := range []struct {
		name, file, text, kind, form string
	}{
		{"credential raw in the log", logFile, "client_secret=" + credValue, "merchant credential " + credName, "raw"},
		{"credential inside Basic auth in a page", filepath.Join(pagesDir, "0003-exchanges.har"), `{"value":"Basic ` + basic + `"}`, "merchant credential " + credName, "base64"},
		{"customer token URL-escaped in a page", filepath.Join(pagesDir, "0004-account.html"), `<a href="/x?t=` + url.QueryEscape(customerToken) + `">`, "klarna customer_token", "URL-escaped"},
		{"refresh token raw in the database", dbFile, "", "klarnasignin refresh_token", "raw"},
		{"customer token in a session's bytes", "sessions", "", "klarna customer_token", "raw"},
		{"client token in the log", logFile, "client_token=" + clientTokenVal, "klarna client_token", "raw"},
		{"checkout token in the log, found by its signature", logFile, "jwt=" + checkoutToken, "altpay checkout token", "JWT signed by the sandbox"},
		{"landing token in the WAL of the database", dbFile + "-wal", "\x00\x01" + landingToken, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fakeRun(t)
			path := filepath.Join(dir, tc.file)
			switch {
			case tc.file == dbFile:
				plantRow(t, dir, "exchanges", refreshToken)
			case tc.file == "sessions":
				plantRow(t, dir, "sessions", []byte("\x0f\xff"+customerToken+"\x00"))
			case tc.file == dbFile+"-wal":
				// A browser kind anywhere in the database's bytes is
				// allowed (its rows are checked instead): this one is not
				// found, and must not be.
				write(t, path, tc.text)
			default:
				if _, err := os.Stat(path); err == nil {
					appendTo(t, path, tc.text)
				} else {
					write(t, path, tc.text)
				}
			}
			code, out := runScan(t, dir, env)
			if tc.kind == "" {
				if code != 0 {
					t.Fatalf("exit %d:\n%s", code, out)
				}
				return
			}
			if code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", code, out)
			}
			want := "LEAK in " + tc.file
			if tc.file == dbFile || tc.file == "sessions" {
				want = "LEAK in " + shopDBFile()
			}
			if !strings.Contains(out, want) || !strings.Contains(out, tc.kind) || !strings.Contains(out, ", "+tc.form+"\n") {
				t.Errorf("want %q, %q, %q in:\n%s", want, tc.kind, tc.form, out)
			}
			for _, v := range []string{credValue, customerToken, refreshToken, clientTokenVal, checkoutToken, basic} {
				if strings.Contains(out, v) {
					t.Errorf("the report shows a secret's value:\n%s", out)
				}
			}
		})
	}
}

// plantRow writes value into table's body column, as a shop that stored a
// token unsealed would.
func plantRow(t *testing.T, dir, table string, value any) {
	t.Helper()
	db := shopDB(t, dir)
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO `+table+` VALUES ('2', $1)`, value); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserKindOutsideItsColumnFails(t *testing.T) {
	dir := fakeRun(t)
	plantRow(t, dir, "exchanges", `{"client_token":"`+clientTokenVal+`"}`)
	code, out := runScan(t, dir, env)
	if code != 1 || !strings.Contains(out, "LEAK in "+shopDBFile()+" (exchanges.body): klarna client_token") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestScanThatCannotFailIsRefused(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		name   string
		make   func(t *testing.T) string
		getenv func(string) string
		want   string
	}{
		{"empty data dir", func(t *testing.T) string { return t.TempDir() }, noEnv, "no secret to look for"},
		{"no log", func(t *testing.T) string {
			dir := fakeRun(t)
			os.Remove(filepath.Join(dir, logFile))
			return dir
		}, env, "no shop log"},
		{"no pages", func(t *testing.T) string {
			dir := fakeRun(t)
			os.RemoveAll(filepath.Join(dir, pagesDir))
			return dir
		}, env, "no page"},
		{"no shop database", func(t *testing.T) string {
			dir := fakeRun(t)
			os.Remove(filepath.Join(dir, dbFile))
			if postgres() {
				db := shopDB(t, dir)
				defer db.Close()
				for _, table := range []string{"klarna_payments", "vipps_payments", "exchanges", "sessions"} {
					if _, err := db.Exec(`DROP TABLE ` + table); err != nil {
						t.Fatal(err)
					}
				}
			}
			return dir
		}, env, "no shop database"},
		{"a credential named but not set", fakeRun, func(n string) string {
			if n == "E2E_CREDENTIALS" {
				return "KLARNA_PASSWORD"
			}
			return ""
		}, "E2E_KLARNA_PASSWORD is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runScan(t, tc.make(t), tc.getenv)
			if code != 2 || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d, want 2 and %q:\n%s", code, tc.want, out)
			}
		})
	}
}

// TestKeptCopiesAreRead: secrets a reset made the sandbox forget are
// still looked for when a copy was kept before it.
func TestKeptCopiesAreRead(t *testing.T) {
	dir := fakeRun(t)
	if _, err := keep(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Forget(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	appendTo(t, filepath.Join(dir, logFile), "token="+refreshToken+"\n")
	code, out := runScan(t, dir, env)
	if code != 1 || !strings.Contains(out, "klarnasignin refresh_token") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestBase64FormsFindTheValueAtEveryAlignment(t *testing.T) {
	s := Secret{Kind: kindCredential, Value: credValue}
	m := NewMatcher(&Secrets{Values: []Secret{s}})
	for _, prefix := range []string{"", "a", "ab", "abc", "user:"} {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			blob := enc.EncodeToString([]byte(prefix + credValue + "/tail"))
			if hits := m.Find([]byte("x " + blob + " y")); len(hits) != 1 {
				t.Errorf("prefix %q: %d hits in %s", prefix, len(hits), blob)
			}
		}
	}
	if hits := m.Find([]byte(base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdeX")))); len(hits) != 0 {
		t.Errorf("another value matched: %v", hits)
	}
}

// TestCollectFromSandbox runs calls against a real sandbox and checks that
// the secrets it handed out are collected from its store: the kinds and
// fields read (persist.go of each provider) are still what the sandbox
// stores.
func TestCollectFromSandbox(t *testing.T) {
	dir := t.TempDir()
	cfg := control.Config{
		ShopBaseURL: "http://shop.test", DataDir: dir,
		Klarna: control.KlarnaConfig{Enabled: true, Username: "ku", Password: "kp-secret", NAUsername: "nu", NAPassword: "np-secret",
			ClientID: "kc", ClientSecret: "kc-secret", TokenAuth: "client_secret_basic"},
		Vipps:  control.VippsConfig{Enabled: true, ClientID: "vc", ClientSecret: "vc-secret", SubscriptionKey: "vsub", MSN: "123456"},
		Altpay: control.AltpayConfig{Enabled: true, ClientID: "ac", ClientSecret: "ac-secret"},
	}
	srv := httptest.NewUnstartedServer(nil)
	cfg.BaseURL = "http://" + srv.Listener.Addr().String()
	sb, err := sandbox.New(cfg, slog.New(slog.DiscardHandler), clock.NewManual(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = sb
	srv.Start()
	defer func() { srv.Close(); sb.Close() }()

	call := func(method, path, body string, hdr map[string]string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, cfg.BaseURL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
		}
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
		return out
	}
	basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }

	vippsTok := call("POST", "/vipps/accesstoken/get", "", map[string]string{"client_id": "vc", "client_secret": "vc-secret", "Ocp-Apim-Subscription-Key": "vsub"})["access_token"].(string)
	vippsBody, err := os.ReadFile("../../web/sandbox/vipps/testdata/create_request.json")
	if err != nil {
		t.Fatal(err)
	}
	redirect := call("POST", "/vipps/epayment/v1/payments", string(vippsBody), map[string]string{
		"Authorization": "Bearer " + vippsTok, "Ocp-Apim-Subscription-Key": "vsub", "Merchant-Serial-Number": "123456", "Idempotency-Key": "create-1",
	})["redirectUrl"].(string)
	klarnaBody, err := os.ReadFile("../../web/sandbox/klarna/testdata/create_session_request.json")
	if err != nil {
		t.Fatal(err)
	}
	session := call("POST", "/klarna/api/payments/v1/sessions", string(klarnaBody), map[string]string{"Authorization": basic("ku", "kp-secret")})
	authz := call("POST", "/control/klarna/sessions/"+session["session_id"].(string)+"/authorize", "{}", nil)["authorization_token"].(string)
	altpayTok := call("POST", "/altpay/oauth/token", "grant_type=client_credentials", map[string]string{
		"Authorization": basic("ac", "ac-secret"), "Content-Type": "application/x-www-form-urlencoded",
	})["access_token"].(string)
	vippsHook := call("POST", "/vipps/webhooks/v1/webhooks", `{"url":"http://shop.test/webhooks/vipps","events":["epayments.payment.authorized.v1"]}`,
		map[string]string{"Authorization": "Bearer " + vippsTok, "Ocp-Apim-Subscription-Key": "vsub", "Merchant-Serial-Number": "123456"})["secret"].(string)
	const altpayHook = "the-shops-webhook-secret-key-0123456789"
	call("POST", "/altpay/webhooks", `{"endpoint_url":"http://shop.test/webhooks/altpay","secret_key":"`+altpayHook+`","topic":"invoice_paid"}`,
		map[string]string{"Authorization": "Bearer " + altpayTok})

	copyDir, err := keep(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	var s Secrets
	if err := s.Store(context.Background(), copyDir); err != nil {
		t.Fatal(err)
	}
	m := NewMatcher(&s)
	for _, want := range []struct {
		kind Kind
		text string
	}{
		{kindVippsAccess, vippsTok},
		{kindVippsLanding, redirect},
		{kindKlarnaClient, session["client_token"].(string)},
		{kindKlarnaAuth, authz},
		{kindAltpayAccess, altpayTok},
		{kindVippsWebhook, vippsHook},
		{kindAltpayWebhook, altpayHook},
	} {
		hits := m.Find([]byte(want.text))
		if len(hits) == 0 || hits[0].Secret.Kind != want.kind {
			t.Errorf("%s: not collected (hits %v)", want.kind.Name, hits)
		}
	}
}
