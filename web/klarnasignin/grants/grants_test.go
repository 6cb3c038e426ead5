package grants_test

// Tests of the keeper (and the client it refreshes with) against the sandbox, through HTTP, on a
// real SQLite database: the refresh happens once however many callers (and
// processes) race, and a dead grant is never retried.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"refshop/db"
	"refshop/web/clock"
	"refshop/web/klarnasignin"
	"refshop/web/klarnasignin/grants"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/sandboxtest"
	"refshop/web/secret"
)

const (
	testClientID     = "refshop-test-client"
	testClientSecret = "test-client-secret"
)

var testStart = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// newTestClient is the shop's client for the sandbox's issuer, with the
// provider clock c and retries that do not wait.
func newTestClient(issuer string, c clock.Clock) *klarnasignin.Client {
	return klarnasignin.New(klarnasignin.Config{
		Issuer: issuer, ClientID: testClientID, ClientSecret: secret.New(testClientSecret),
		RedirectURL: "http://shop.test/auth/klarna/callback",
		HTTP:        &http.Client{Timeout: 5 * time.Second}, Clock: c, Backoff: []time.Duration{time.Millisecond, time.Millisecond},
	})
}

// world is a sandbox plus one shop process (a Store, a Client and a Keeper on
// a database file); process adds another one on the same file.
type world struct {
	t    *testing.T
	sb   *sandboxtest.Server
	url  string
	dir  string
	box  *secret.Box
	wall *clock.Manual // lease clock
	shop               // the first process
}

type shop struct {
	db     *db.DB
	store  *db.Store
	client *klarnasignin.Client
	grants *grants.Keeper
}

func newWorld(t *testing.T) *world {
	t.Helper()
	cfg := control.Config{ShopBaseURL: "http://shop.test",
		Klarna: control.KlarnaConfig{Enabled: true, ClientID: testClientID, ClientSecret: testClientSecret}}
	sb := sandboxtest.Start(t, cfg, clock.NewManual(testStart))
	u := sb.URL
	box, err := secret.NewBox([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, sb: sb, url: u, dir: t.TempDir(), box: box, wall: clock.NewManual(testStart)}
	w.shop = w.process()
	return w
}

// process opens the database file again, as a second shop process would,
// with its own client, singleflight and lease owner.
func (w *world) process() shop {
	w.t.Helper()
	d, err := db.Open(context.Background(), w.dir)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { d.Close() })
	store := db.NewStore(d, nil)
	// The provider clock is the sandbox clock, as cmd/shop wires it.
	c := newTestClient(w.url+"/klarna/login", w.sb.State.Clock)
	return shop{db: d, store: store, client: c,
		grants: grants.New(grants.Config{Client: c, Issuer: w.issuer(), Store: store, Box: w.box, Wall: w.wall, Poll: 5 * time.Millisecond})}
}

// issuer is the sandbox's issuer, which the world's grants are kept under.
func (w *world) issuer() string { return w.url + "/klarna/login" }

func (w *world) post(path, body string) {
	w.t.Helper()
	res, err := http.Post(w.url+path, "application/json", strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		w.t.Fatalf("%s %s: %d %s", path, body, res.StatusCode, b)
	}
}

func (w *world) calls(op string) int { return w.sb.State.Calls(op) }

// authorize runs the browser's part with klarna_auto_consent and returns
// the code and state the callback gets.
func (w *world) authorize(email string, ar klarnasignin.AuthRequest) (code, state string) {
	w.t.Helper()
	w.post("/control/settings", `{"klarna_auto_consent": "`+email+`"}`)
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(ar.URL)
	if err != nil {
		w.t.Fatal(err)
	}
	res.Body.Close()
	loc, err := url.Parse(res.Header.Get("Location"))
	if err != nil || res.StatusCode != http.StatusSeeOther {
		w.t.Fatalf("authorize: %d %v", res.StatusCode, err)
	}
	return loc.Query().Get("code"), loc.Query().Get("state")
}

// signIn makes an account, signs email in with Klarna and stores the grant.
func (w *world) signIn(email string) (int64, klarnasignin.Tokens) {
	w.t.Helper()
	ctx := context.Background()
	u, err := w.store.CreateUser(ctx, "shop-"+email, "", "hash")
	if err != nil {
		w.t.Fatal(err)
	}
	ar, err := w.client.NewAuthRequest(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	code, state := w.authorize(email, ar)
	if state != ar.State {
		w.t.Fatalf("state %q came back as %q", ar.State, state)
	}
	id, toks, err := w.client.Exchange(ctx, code, ar.Verifier, ar.Nonce)
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.grants.Connect(ctx, u.ID, id, toks); err != nil {
		w.t.Fatal(err)
	}
	return u.ID, toks
}

// wantSignInAgain fails unless asking for uid's access token gives
// ErrSignInAgain; when says what is being checked.
func (w *world) wantSignInAgain(uid int64, when string) {
	w.t.Helper()
	if _, err := w.grants.AccessToken(context.Background(), uid); !errors.Is(err, grants.ErrSignInAgain) {
		w.t.Fatalf("%s: %v, want ErrSignInAgain", when, err)
	}
}

// wantRefreshes fails unless the sandbox counted n refresh calls; why says
// why n.
func (w *world) wantRefreshes(n int, why string) {
	w.t.Helper()
	if got := w.calls("klarna.token_refresh"); got != n {
		w.t.Fatalf("%d refresh calls, want %d %s", got, n, why)
	}
}

// recognised asks the sandbox's userinfo whether an access token is valid now.
func (w *world) recognised(at secret.Secret) bool {
	req, _ := http.NewRequest(http.MethodGet, w.url+"/klarna/login/eu/lp/idp/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at.Reveal())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode == 200
}

// sub is the Klarna identity the user is connected to.
func (w *world) sub(uid int64) string {
	w.t.Helper()
	id, err := w.store.KlarnaIdentityByUser(context.Background(), w.issuer(), uid)
	if err != nil {
		w.t.Fatal(err)
	}
	return id.Sub
}

// storedRefresh opens the refresh token stored for the user.
func (w *world) storedRefresh(uid int64) string {
	w.t.Helper()
	g, err := w.store.KlarnaGrant(context.Background(), w.issuer(), uid)
	if err != nil {
		w.t.Fatal(err)
	}
	if g.RefreshToken == "" {
		return ""
	}
	s, err := w.box.Open(g.RefreshToken, "user:"+strconv.FormatInt(uid, 10)+":klarna_refresh_token")
	if err != nil {
		w.t.Fatal(err)
	}
	return s.Reveal()
}

func TestCodeExchangeWithPKCEAndNonceAgainstTheSandbox(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	ar, _ := w.client.NewAuthRequest(ctx)
	code, _ := w.authorize("anna.schmidt@example.com", ar)
	// Without the verifier, or with another, the sandbox refuses the code.
	if _, _, err := w.client.Exchange(ctx, code, "wrong-verifier-wrong-verifier-wrong-verifier-1", ar.Nonce); err == nil {
		t.Fatal("exchange with the wrong PKCE verifier worked")
	}
	id, toks, err := w.client.Exchange(ctx, code, ar.Verifier, ar.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	if id.Email != "anna.schmidt@example.com" || id.Name() != "Anna Schmidt" || !strings.HasPrefix(id.Sub, "krn:kuid:") {
		t.Fatalf("identity %+v", id)
	}
	if !w.recognised(toks.AccessToken) || toks.RefreshToken.IsZero() {
		t.Fatal("tokens from the exchange do not work")
	}
	// A nonce other than the one sent is refused even with a valid code.
	ar2, _ := w.client.NewAuthRequest(ctx)
	code2, _ := w.authorize("anna.schmidt@example.com", ar2)
	if _, _, err := w.client.Exchange(ctx, code2, ar2.Verifier, ar.Nonce); !klarnasignin.InvalidIDToken(err) {
		t.Fatalf("nonce of another sign-in: %v", err)
	}
}

func TestFiftyConcurrentCheckoutsMakeOneRefresh(t *testing.T) {
	w := newWorld(t)
	uid, first := w.signIn("anna.schmidt@example.com")
	w.sb.State.Clock.Advance(6 * time.Minute) // past the 5 minute access token
	if w.recognised(first.AccessToken) {
		t.Fatal("the access token outlived its lifetime")
	}
	oldRefresh := w.storedRefresh(uid)

	var wg sync.WaitGroup
	got := make([]secret.Secret, 50)
	errs := make([]error, 50)
	for i := range 50 {
		wg.Go(func() { got[i], errs[i] = w.grants.AccessToken(context.Background(), uid) })
	}
	wg.Wait()
	for i := range 50 {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if got[i].Reveal() != got[0].Reveal() {
			t.Fatalf("caller %d got another access token", i)
		}
	}
	w.wantRefreshes(1, "")
	if got[0].Reveal() == first.AccessToken.Reveal() || !w.recognised(got[0]) {
		t.Fatal("the callers did not get a new, valid access token")
	}
	if now := w.storedRefresh(uid); now == oldRefresh || now == "" {
		t.Fatal("the stored refresh token is still the used one")
	}
}

func TestTwoProcessesRacingMakeOneRefresh(t *testing.T) {
	w := newWorld(t)
	uid, _ := w.signIn("jonas.weber@example.com")
	second := w.process()
	w.sb.State.Clock.Advance(6 * time.Minute)
	// Hold the first refresh call a moment, so the other process surely
	// finds the access token expired while the refresh is under way.
	w.post("/control/faults", `{"operation": "klarna.token_refresh", "status": 0, "delay": "300ms"}`)

	var wg sync.WaitGroup
	tokens := make(chan string, 60)
	fail := make(chan error, 60)
	for i := range 60 {
		g := w.grants
		if i%2 == 1 {
			g = second.grants
		}
		wg.Go(func() {
			at, err := g.AccessToken(context.Background(), uid)
			if err != nil {
				fail <- err
				return
			}
			tokens <- at.Reveal()
		})
	}
	wg.Wait()
	close(tokens)
	close(fail)
	for err := range fail {
		t.Fatalf("a caller failed: %v", err)
	}
	seen := map[string]bool{}
	for at := range tokens {
		seen[at] = true
	}
	if len(seen) != 1 {
		t.Fatalf("%d different access tokens, want 1", len(seen))
	}
	w.wantRefreshes(1, "(two processes race)")
}

func TestStoredTokenIsNeverTheOldOneAfterRotation(t *testing.T) {
	w := newWorld(t)
	uid, toks := w.signIn("mia.svensson@example.com")
	seen := map[string]bool{toks.RefreshToken.Reveal(): true}
	if w.storedRefresh(uid) != toks.RefreshToken.Reveal() {
		t.Fatal("sign-in did not store its refresh token")
	}
	var raw string
	if err := w.db.Read.QueryRow(`SELECT refresh_token || access_token FROM klarna_grants WHERE user_id = ?`, uid).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw, toks.RefreshToken.Reveal()) || strings.Contains(raw, toks.AccessToken.Reveal()) {
		t.Fatal("tokens are stored in the clear")
	}
	for i := range 3 {
		w.sb.State.Clock.Advance(5 * time.Minute)
		if _, err := w.grants.AccessToken(context.Background(), uid); err != nil {
			t.Fatalf("refresh %d: %v", i+1, err)
		}
		rt := w.storedRefresh(uid)
		if seen[rt] {
			t.Fatalf("after refresh %d the stored refresh token is one already used", i+1)
		}
		seen[rt] = true
	}
	w.wantRefreshes(3, "")
}

func TestReuseDetectionEndsTheGrantAndIsNotRetried(t *testing.T) {
	w := newWorld(t)
	uid, toks := w.signIn("anna.schmidt@example.com")
	w.sb.State.Clock.Advance(6 * time.Minute)
	if _, err := w.grants.AccessToken(context.Background(), uid); err != nil {
		t.Fatal(err)
	}
	// Someone replays the used refresh token (a leak, a restored backup):
	// Klarna revokes the whole grant.
	if _, err := w.client.Refresh(context.Background(), toks.RefreshToken, w.sub(uid)); !klarnasignin.InvalidGrant(err) {
		t.Fatalf("replayed refresh token: %v", err)
	}
	w.sb.State.Clock.Advance(6 * time.Minute)
	before := w.calls("klarna.token_refresh")
	w.wantSignInAgain(uid, "after reuse")
	st, _ := w.grants.Status(context.Background(), uid)
	if !st.Connected || !st.SignInAgain {
		t.Fatalf("status %+v, want connected and sign-in-again", st)
	}
	if w.storedRefresh(uid) != "" {
		t.Fatal("a dead grant kept its refresh token")
	}
	for range 5 {
		w.wantSignInAgain(uid, "dead grant")
	}
	if n := w.calls("klarna.token_refresh") - before; n != 1 {
		t.Fatalf("%d refresh calls for a dead grant, want the 1 that found it dead", n)
	}
	// Signing in again brings it back.
	ar, _ := w.client.NewAuthRequest(context.Background())
	code, _ := w.authorize("anna.schmidt@example.com", ar)
	id, toks2, err := w.client.Exchange(context.Background(), code, ar.Verifier, ar.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.grants.Connect(context.Background(), uid, id, toks2); err != nil {
		t.Fatal(err)
	}
	if at, err := w.grants.AccessToken(context.Background(), uid); err != nil || !w.recognised(at) {
		t.Fatalf("after signing in again: %v", err)
	}
}

func TestExpiredRefreshToken(t *testing.T) {
	t.Run("Klarna says expired", func(t *testing.T) {
		w := newWorld(t)
		w.post("/control/settings", `{"klarna_refresh_token_ttl": "10m"}`)
		uid, _ := w.signIn("jonas.weber@example.com")
		w.sb.State.Clock.Advance(11 * time.Minute)
		w.wantSignInAgain(uid, "access token")
		w.wantRefreshes(1, "")
	})
	t.Run("past the documented 60 days", func(t *testing.T) {
		w := newWorld(t)
		uid, _ := w.signIn("jonas.weber@example.com")
		w.sb.State.Clock.Advance(61 * 24 * time.Hour)
		w.wantSignInAgain(uid, "access token")
		w.wantRefreshes(0, "(the refresh token is known to be expired)")
	})
}

func TestTransientFailureKeepsTheGrant(t *testing.T) {
	w := newWorld(t)
	uid, _ := w.signIn("anna.schmidt@example.com")
	w.sb.State.Clock.Advance(6 * time.Minute)
	w.post("/control/faults", `{"operation": "klarna.token_refresh", "status": 503, "times": 3}`)
	_, err := w.grants.AccessToken(context.Background(), uid)
	if err == nil || errors.Is(err, grants.ErrSignInAgain) {
		t.Fatalf("err = %v, want a transient error", err)
	}
	if n := w.calls("klarna.token_refresh"); n != 3 {
		t.Fatalf("%d calls, want 3 (two retries)", n)
	}
	g, _ := w.store.KlarnaGrant(context.Background(), w.issuer(), uid)
	if g.Dead() || g.LeaseOwner != "" {
		t.Fatalf("grant after a 503: dead=%v lease=%q", g.Dead(), g.LeaseOwner)
	}
	if at, err := w.grants.AccessToken(context.Background(), uid); err != nil || !w.recognised(at) {
		t.Fatalf("next checkout: %v", err)
	}
}

func TestUnknownOutcomeIsNotSentAgain(t *testing.T) {
	w := newWorld(t)
	uid, _ := w.signIn("anna.schmidt@example.com")
	w.grants = grants.New(grants.Config{Client: w.client, Issuer: w.issuer(), Store: w.store, Box: w.box, Wall: w.wall, Lease: 500 * time.Millisecond})
	w.sb.State.Clock.Advance(6 * time.Minute)
	// The sandbox holds the call longer than the shop waits: the refresh
	// may or may not have happened.
	w.post("/control/faults", `{"operation": "klarna.token_refresh", "status": 0, "delay": "3s"}`)
	w.wantSignInAgain(uid, "access token")
	w.wantSignInAgain(uid, "second call")
	w.wantRefreshes(1, "(the maybe-spent token must not be sent again)")
}

func TestLeaseThatRunsOutIsNotResent(t *testing.T) {
	w := newWorld(t)
	uid, _ := w.signIn("anna.schmidt@example.com")
	// Another process claimed the refresh, was sending the token, and died.
	w.crashedRefresh(uid, true)
	w.wantWaiting(uid, "another process held the lease")
	w.wall.Advance(31 * time.Second)
	w.wantSignInAgain(uid, "after the lease ran out")
	w.wantRefreshes(0, "")
}

func TestConnectRevokesTheReplacedGrant(t *testing.T) {
	w := newWorld(t)
	uid, first := w.signIn("anna.schmidt@example.com")
	ar, _ := w.client.NewAuthRequest(context.Background())
	code, _ := w.authorize("anna.schmidt@example.com", ar)
	id, toks, err := w.client.Exchange(context.Background(), code, ar.Verifier, ar.Nonce)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.grants.Connect(context.Background(), uid, id, toks); err != nil {
		t.Fatal(err)
	}
	if w.recognised(first.AccessToken) {
		t.Fatal("the replaced grant was not revoked")
	}
	if w.storedRefresh(uid) != toks.RefreshToken.Reveal() {
		t.Fatal("the new grant was not stored")
	}
	// Another account cannot take the same Klarna identity.
	other, _ := w.store.CreateUser(context.Background(), "other@example.com", "", "hash")
	if err := w.grants.Connect(context.Background(), other.ID, id, toks); !errors.Is(err, db.ErrKlarnaTaken) {
		t.Fatalf("second account: %v, want ErrKlarnaTaken", err)
	}
}

func TestDisconnectRevokesAndForgets(t *testing.T) {
	w := newWorld(t)
	uid, toks := w.signIn("anna.schmidt@example.com")
	w.post("/control/faults", `{"operation": "klarna.revoke", "status": 502}`)
	if err := w.grants.Disconnect(context.Background(), uid); !errors.Is(err, grants.ErrRevoke) {
		t.Fatalf("disconnect while Klarna fails: %v, want ErrRevoke", err)
	}
	if st, _ := w.grants.Status(context.Background(), uid); !st.Connected {
		t.Fatal("a failed revocation deleted the connection")
	}
	if err := w.grants.Disconnect(context.Background(), uid); err != nil {
		t.Fatal(err)
	}
	if w.recognised(toks.AccessToken) {
		t.Fatal("tokens work after Disconnect")
	}
	if st, _ := w.grants.Status(context.Background(), uid); st.Connected {
		t.Fatal("still connected after Disconnect")
	}
	if _, err := w.grants.AccessToken(context.Background(), uid); !errors.Is(err, grants.ErrNotConnected) {
		t.Fatalf("after Disconnect: %v", err)
	}
}

func TestSweepDropsExpiredAccessTokens(t *testing.T) {
	w := newWorld(t)
	uid, _ := w.signIn("anna.schmidt@example.com")
	if n, _ := w.grants.Sweep(context.Background()); n != 0 {
		t.Fatalf("swept %d live tokens", n)
	}
	w.sb.State.Clock.Advance(5 * time.Minute)
	if n, _ := w.grants.Sweep(context.Background()); n != 1 {
		t.Fatalf("swept %d, want 1", n)
	}
	g, _ := w.store.KlarnaGrant(context.Background(), w.issuer(), uid)
	if g.AccessToken != "" || g.RefreshToken == "" {
		t.Fatal("sweep dropped the wrong token")
	}
}

// wantWaiting fails unless asking for uid's access token is still waiting
// (for another process's refresh) after a moment; while says why it must.
func (w *world) wantWaiting(uid int64, while string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := w.grants.AccessToken(ctx, uid); !errors.Is(err, context.DeadlineExceeded) {
		w.t.Fatalf("%v while %s, want to be still waiting", err, while)
	}
}

// crashedRefresh is a process that found uid's access token expired (the
// sandbox clock moves past it), claimed the refresh (and recorded that it
// was about to send the refresh token, when sending), then died.
func (w *world) crashedRefresh(uid int64, sending bool) {
	w.t.Helper()
	ctx := context.Background()
	w.sb.State.Clock.Advance(6 * time.Minute)
	g, err := w.store.KlarnaGrant(ctx, w.issuer(), uid)
	if err != nil {
		w.t.Fatal(err)
	}
	if ok, err := w.store.ClaimKlarnaRefresh(ctx, w.issuer(), uid, g.Version, "crashed-process", w.wall.Now().Add(2*time.Second)); !ok || err != nil {
		w.t.Fatalf("claim: %v %v", ok, err)
	}
	if !sending {
		return
	}
	if ok, err := w.store.MarkKlarnaRefreshSending(ctx, w.issuer(), uid, g.Version, "crashed-process", w.wall.Now().Add(30*time.Second)); !ok || err != nil {
		w.t.Fatalf("sending: %v %v", ok, err)
	}
}

// A process that died after claiming the refresh but before it was about to
// send the refresh token never spent it: the next caller takes the claim over
// once the short claim runs out (not the whole lease), and the grant lives.
func TestClaimThatDiedBeforeSendingIsTakenOver(t *testing.T) {
	w := newWorld(t)
	uid, _ := w.signIn("anna.schmidt@example.com")
	w.crashedRefresh(uid, false)

	// While the claim runs, its holder may still be alive: wait for it.
	w.wantWaiting(uid, "another process held the claim")
	w.wall.Advance(2 * time.Second) // the claim's length, far less than a lease
	if at, err := w.grants.AccessToken(context.Background(), uid); err != nil || !w.recognised(at) {
		t.Fatalf("after the claim ran out: %v, want a fresh access token", err)
	}
	w.wantRefreshes(1, "(the claim's token was never sent)")
	if g, _ := w.store.KlarnaGrant(context.Background(), w.issuer(), uid); g.Dead() || g.LeaseOwner != "" {
		t.Errorf("grant dead=%v lease=%q after the take-over", g.Dead(), g.LeaseOwner)
	}
}

// A stored access token Klarna no longer accepts (the customer revoked the
// shop at Klarna within the token's five minutes) is not confirmed: the
// grant is refreshed once, which finds it ended. One Klarna cannot ask
// about is returned unconfirmed.
func TestConfirmedAccessTokenAsksKlarna(t *testing.T) {
	w := newWorld(t)
	uid, _ := w.signIn("anna.schmidt@example.com")
	ctx := context.Background()
	at, err := w.grants.ConfirmedAccessToken(ctx, uid)
	if err != nil || !w.recognised(at) {
		t.Fatalf("a live grant: %v", err)
	}
	w.wantRefreshes(0, "(the stored token is live)")

	w.post("/control/faults", `{"operation": "klarna.userinfo", "status": 503, "times": 3}`)
	if at, err := w.grants.ConfirmedAccessToken(ctx, uid); !errors.Is(err, grants.ErrUnconfirmed) || at.IsZero() {
		t.Fatalf("userinfo unavailable: %v (token returned: %v), want ErrUnconfirmed with the token", err, !at.IsZero())
	}

	w.post("/control/klarna/login/revoke", `{"email": "anna.schmidt@example.com"}`)
	if _, err := w.grants.ConfirmedAccessToken(ctx, uid); !errors.Is(err, grants.ErrSignInAgain) {
		t.Fatalf("after the revocation: %v, want ErrSignInAgain", err)
	}
	w.wantRefreshes(1, "(the refused token is dropped and the grant refreshed once)")
	if st, _ := w.grants.Status(ctx, uid); !st.SignInAgain {
		t.Error("the account does not ask to sign in with Klarna again")
	}
}
