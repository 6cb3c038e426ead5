package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"refshop/db"
	"refshop/db/dbtest"
	"refshop/web/config"
)

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitFor polls url until it answers 200 (the shop starting up), bounded.
func waitFor(t *testing.T, url string) {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond) // polling a server coming up, not synchronising test logic
	}
	t.Fatalf("%s never answered", url)
}

func TestGracefulShutdownLetsRequestsFinishAndClosesTheDatabase(t *testing.T) {
	dir := t.TempDir()
	shopAddr, sandboxAddr := freePort(t), freePort(t)
	env := map[string]string{"SHOP_ADDR": shopAddr, "SANDBOX_ADDR": sandboxAddr, "SHOP_DATA_DIR": dir, "LOG_LEVEL": "ERROR"}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, &stdout, io.Discard) }()
	waitFor(t, "http://"+shopAddr+"/healthz")
	sandbox := "http://" + sandboxAddr
	calls := func() map[string]int {
		var state struct{ Calls map[string]int }
		res, err := http.Get(sandbox + "/control/state")
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(res.Body).Decode(&state)
		res.Body.Close()
		return state.Calls
	}
	// The shop registers its Vipps webhook at start (fetching a token): let
	// that end first, so the token call below is the test's own.
	for deadline := time.Now().Add(10 * time.Second); calls()["vipps.webhooks_register"] == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the shop did not register its Vipps webhook at start")
		}
		time.Sleep(20 * time.Millisecond) // polling a server coming up, not synchronising test logic
	}
	tokens := calls()["vipps.accesstoken"]

	// A slow request: the sandbox holds the next token call for two seconds.
	const delay = 2 * time.Second
	res, err := http.Post(sandbox+"/control/faults", "application/json",
		strings.NewReader(`{"operation": "vipps.accesstoken", "status": 0, "delay": "2s"}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("queue fault: %v", err)
	}
	res.Body.Close()
	slow := make(chan int, 1)
	started := time.Now()
	go func() {
		res, err := http.Post(sandbox+"/vipps/accesstoken/get", "application/json", nil)
		if err != nil {
			slow <- -1
			return
		}
		res.Body.Close()
		slow <- res.StatusCode
	}()
	// Wait until the sandbox has the call in hand (it counts it before the delay).
	for deadline := time.Now().Add(10 * time.Second); ; {
		if time.Now().After(deadline) {
			t.Fatal("the slow request never reached the sandbox")
		}
		if calls()["vipps.accesstoken"] == tokens+1 {
			break
		}
	}
	cancel() // SIGINT
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after the shutdown")
	}
	// run cannot have returned before the held request was answered: a
	// lower bound only, which a slow machine cannot break.
	if took := time.Since(started); took < delay {
		t.Fatalf("run returned %v after the request started, before its %v delay ended: requests were not drained", took, delay)
	}
	if status := <-slow; status <= 0 {
		t.Fatal("the in-flight request was cut off by the shutdown")
	}
	// SQLite removes the WAL file when the last connection closes.
	if _, err := os.Stat(filepath.Join(dir, "refshop.db-wal")); !os.IsNotExist(err) {
		t.Fatalf("the database was not closed (WAL file: %v)", err)
	}
	for _, want := range []string{"http://" + shopAddr, sandbox, "Vipps MobilePay", "sandbox", "VIPPS_SUBSCRIPTION_KEY"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the start banner lacks %q", want)
		}
	}
}

func TestBadConfigurationStopsTheShopNamingTheVariable(t *testing.T) {
	env := map[string]string{"SHOP_ADDR": "8080", "SHOP_DATA_DIR": t.TempDir()}
	err := run(context.Background(), func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "SHOP_ADDR") {
		t.Fatalf("got %v", err)
	}
}

func TestBannerNeverPrintsCredentialsTheUserSet(t *testing.T) {
	env := map[string]string{"VIPPS_CLIENT_SECRET": "my-own-secret-value"}
	getenv := func(k string) string { return env[k] }
	cfg, err := config.Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	printBanner(&out, getenv, cfg)
	if strings.Contains(out.String(), "my-own-secret-value") {
		t.Fatal("the banner printed a credential the user set")
	}
	if !strings.Contains(out.String(), config.Defaults["KLARNA_PASSWORD"]) {
		t.Fatal("the banner does not print the sandbox defaults in use")
	}
}

func TestAWrongSecretKeyFailsLoudlyAtStart(t *testing.T) {
	dir := t.TempDir()
	store := db.NewStore(dbtest.Open(t), nil)
	ctx := context.Background()

	// No SHOP_SECRET_KEY: a key is generated into the data dir and used again.
	cfg := config.Config{DataDir: dir}
	if _, err := openBox(ctx, cfg, store); err != nil {
		t.Fatal(err)
	}
	if _, err := openBox(ctx, cfg, store); err != nil {
		t.Fatalf("second start with the same key file: %v", err)
	}
	// Another key against the same database: refused, naming the variable.
	cfg.SecretKey = bytes.Repeat([]byte{7}, 32)
	_, err := openBox(ctx, cfg, store)
	if err == nil || !strings.Contains(err.Error(), "SHOP_SECRET_KEY") {
		t.Fatalf("a wrong key: %v", err)
	}
}

// A wrong or unreachable DATABASE_URL stops the shop at start, naming the
// variable and never its password.
func TestABadDatabaseURLStopsTheShopWithoutItsPassword(t *testing.T) {
	for _, u := range []string{"postgres://shop:s3cret-pw@127.0.0.1:1/shop?connect_timeout=2", "sqlite://shop:s3cret-pw@x/y"} {
		env := map[string]string{"SHOP_DATA_DIR": t.TempDir(), "SHOP_ADDR": freePort(t), "SANDBOX_ADDR": freePort(t), "DATABASE_URL": u}
		err := run(t.Context(), func(k string) string { return env[k] }, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: %v; want the shop stopped naming DATABASE_URL, not the password", u, err)
		}
	}
}

// A session one instance wrote is read by another on the same database.
func TestSessionsAreSharedByInstancesOnOneDatabase(t *testing.T) {
	start := dbtest.Starter(t)
	var stores []db.SessionStore
	for range 2 {
		d, err := start(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		s := d.SessionStore(5 * time.Minute)
		t.Cleanup(s.StopCleanup)
		stores = append(stores, s)
	}
	if err := stores[0].Commit("token-1", []byte("cart 7"), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	b, found, err := stores[1].Find("token-1")
	if err != nil || !found || string(b) != "cart 7" {
		t.Fatalf("the other instance found %q, %v (%v); want the session", b, found, err)
	}
}

// An instance starting on a database another instance started on lately
// with another SHOP_BASE_URL says so; one with the same says nothing.
func TestAnotherInstancesBaseURLIsToldAtStart(t *testing.T) {
	start := dbtest.Starter(t)
	logOf := func(baseURL string) string {
		d, err := start(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		warnOfOtherBaseURLs(t.Context(), db.NewStore(d, nil), config.Config{ShopBaseURL: baseURL}, slog.New(slog.NewTextHandler(&out, nil)))
		return out.String()
	}
	if l := logOf("https://shop.example"); l != "" {
		t.Fatalf("first instance: %s", l)
	}
	if l := logOf("https://shop.example"); l != "" {
		t.Fatalf("same base URL: %s", l)
	}
	l := logOf("http://localhost:8083")
	if !strings.Contains(l, "SHOP_BASE_URL") || !strings.Contains(l, "other=https://shop.example") || !strings.Contains(l, "this=http://localhost:8083") {
		t.Fatalf("another base URL: %q", l)
	}
}
