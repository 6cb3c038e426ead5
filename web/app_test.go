package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/alexedwards/scs/v2"
	"golang.org/x/crypto/bcrypt"

	"refshop/db"
	"refshop/db/dbtest"
	"refshop/web/clock"
	"refshop/web/config"
	"refshop/web/secret"
)

// testApp is the shop on a temp database behind an httptest server.
type testApp struct {
	*App
	srv   *httptest.Server
	clock *clock.Manual
	logs  *strings.Builder
}

// newTestApp starts a shop; use(deps) may change its dependencies first.
func newTestApp(tb testing.TB, use ...func(*Deps)) *testApp {
	tb.Helper()
	return newTestAppOn(tb, dbtest.Open(tb), use...)
}

// newTestAppOn starts a shop on an existing database (a "restart").
func newTestAppOn(tb testing.TB, database *db.DB, use ...func(*Deps)) *testApp {
	tb.Helper()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		tb.Fatal(err)
	}
	clk := clock.NewManual(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	logs := &strings.Builder{}
	sessions := scs.New()
	sessions.Store = database.SessionStore(0)
	sessions.Cookie.Name = "refshop_session"
	box, _ := secret.NewBox(make([]byte, secret.KeySize))
	d := Deps{
		Config: cfg, Store: db.NewStore(database, clk.Now), DB: database, Sessions: sessions, Clock: clk, Box: box,
		Log: slog.New(slog.NewTextHandler(&lockedWriter{b: logs}, nil)), HTTP: http.DefaultClient, PasswordCost: bcrypt.MinCost,
	}
	for _, f := range use {
		f(&d)
	}
	a := New(d)
	srv := httptest.NewServer(a)
	tb.Cleanup(srv.Close)
	return &testApp{App: a, srv: srv, clock: clk, logs: logs}
}

// browser is one person's browser: a cookie jar, no automatic redirects.
type browser struct {
	tb  testing.TB
	app *testApp
	c   *http.Client
}

func (t *testApp) browser(tb testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{tb: tb, app: t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status   int
	header   http.Header
	body     string
	location string
}

func (p page) doc(tb testing.TB) *goquery.Document {
	d, err := goquery.NewDocumentFromReader(strings.NewReader(p.body))
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func (b *browser) do(req *http.Request) page {
	b.tb.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.tb.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, header: res.Header, body: string(body), location: res.Header.Get("Location")}
}

func (b *browser) get(path string) page {
	req, _ := http.NewRequest("GET", b.app.srv.URL+path, nil)
	return b.do(req)
}

// post sends a same-origin form, as the shop's own pages do.
func (b *browser) post(path string, form url.Values) page {
	req, _ := http.NewRequest("POST", b.app.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return b.do(req)
}

func (b *browser) sessionCookie() string {
	u, _ := url.Parse(b.app.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "refshop_session" {
			return c.Value
		}
	}
	return ""
}

// inMarket switches the browser's market (package market) with the page
// header's form.
func (b *browser) inMarket(id string) {
	b.tb.Helper()
	if p := b.post("/market", url.Values{"market": {id}, "next": {"/"}}); p.status != http.StatusSeeOther {
		b.tb.Fatalf("switching to market %q: status %d: %s", id, p.status, p.body)
	}
}

// signUp makes an account and leaves the browser signed in.
func (b *browser) signUp(email string) {
	b.tb.Helper()
	p := b.post("/signup", url.Values{"email": {email}, "password": {"correct horse battery"}, "name": {"Tess"}})
	if p.status != http.StatusSeeOther {
		b.tb.Fatalf("sign up: %d %s", p.status, p.body)
	}
}

type lockedWriter struct {
	b *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return w.b.Write(p)
}

func (t *testApp) logText() string {
	logMu.Lock()
	defer logMu.Unlock()
	return t.logs.String()
}

var logMu sync.Mutex

// eventually polls cond until it holds, and fails the test when it has not
// within a bound: for provider work a request left running in the
// background, whose end the test learns from the store.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	bound := time.NewTimer(10 * time.Second)
	defer bound.Stop()
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for !cond() {
		select {
		case <-bound.C:
			tb.Fatalf("%s: not within 10s", what)
		case <-poll.C:
		}
	}
}
