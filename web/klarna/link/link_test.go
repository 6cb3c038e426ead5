package link_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"refshop/db"
	"refshop/web/clock"
	"refshop/web/klarna"
	"refshop/web/klarna/link"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/sandboxtest"
	"refshop/web/secret"
)

type env struct {
	t     *testing.T
	logs  *bytes.Buffer // the keeper's log
	url   string
	sb    *sandboxtest.Server
	c     *klarna.Client
	db    *db.DB
	store *db.Store
	links *link.Keeper
	user  int64
	clock *clock.Manual
}

func newEnv(t *testing.T) *env {
	t.Helper()
	sb := sandboxtest.Start(t, control.Config{ShopBaseURL: "http://shop.test",
		Klarna: control.KlarnaConfig{Enabled: true, Username: "PK", Password: "pw"}}, nil)
	srv := sb.Server
	c := klarna.New(klarna.Config{BaseURL: srv.URL + "/klarna/api", Username: "PK", Password: secret.New("pw"),
		HTTP: srv.Client(), Sleep: func(context.Context, time.Duration) error { return nil }})
	ctx := context.Background()
	d, err := db.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	clk := clock.NewManual(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	store := db.NewStore(d, clk.Now)
	key := make([]byte, secret.KeySize)
	_, _ = rand.Read(key)
	box, _ := secret.NewBox(key)
	u, err := store.CreateUser(ctx, "anna@example.com", "Anna", "")
	if err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	return &env{t: t, logs: logs, url: srv.URL, sb: sb, c: c, db: d, store: store, user: u.ID, clock: clk,
		links: link.New(link.Config{Environment: srv.URL + "/klarna/api", Store: store, Box: box, Log: slog.New(slog.NewTextHandler(logs, nil))})}
}

func (e *env) control(path string, body any) map[string]any {
	e.t.Helper()
	return e.sb.Control(e.t, path, body)
}

var items = []klarna.Item{{Reference: "sencha", Name: "Sencha", Quantity: 2, UnitPrice: 850, TaxRate: 700}}

// approved is a session the customer approved, ready for create order.
type approved struct {
	auth string
	req  klarna.OrderRequest
}

// approve creates a buy_and_link session with the stored token (if any) and
// approves it as the widget would.
func (e *env) approve(attempt string, link bool) approved {
	e.t.Helper()
	ctx := context.Background()
	tok := e.begin().Token()
	lines, amount, tax := klarna.Lines(items)
	p := klarna.Purchase{PurchaseCountry: "DE", PurchaseCurrency: "EUR", OrderAmount: amount, OrderTaxAmount: tax, OrderLines: lines}
	req := klarna.SessionRequest{Intent: klarna.IntentBuyAndLink, Purchase: p}
	if !tok.IsZero() {
		req.Customer = &klarna.Customer{CustomerToken: tok}
	}
	s, err := e.c.CreateSession(ctx, req, klarna.IdempotencyKey(attempt, "create_session"))
	if err != nil {
		e.t.Fatal(err)
	}
	auth := e.control("/control/klarna/sessions/"+s.SessionID+"/authorize", map[string]any{"link_account": link})["authorization_token"].(string)
	return approved{auth: auth, req: klarna.OrderRequest{Purchase: p}}
}

// order places the approved order and returns Klarna's token.
func (e *env) order(attempt string, a approved) secret.Secret {
	e.t.Helper()
	o, err := e.c.CreateOrder(context.Background(), a.auth, a.req, klarna.IdempotencyKey(attempt, "create_order"))
	if err != nil {
		e.t.Fatal(err)
	}
	return o.CustomerToken
}

// purchase is one whole checkout as the shop runs it: begin an attempt on
// the link, order, save the answer's token.
func (e *env) purchase(attempt string, link bool) secret.Secret {
	e.t.Helper()
	a := e.approve(attempt, link)
	att := e.begin()
	tok := e.order(attempt, a)
	if err := att.Save(context.Background(), tok); err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// begin reads the user's link as a handler does before a Klarna call.
func (e *env) begin() *link.Attempt {
	e.t.Helper()
	att, err := e.links.Begin(context.Background(), e.user)
	if err != nil {
		e.t.Fatal(err)
	}
	return att
}

func (e *env) stored() string {
	e.t.Helper()
	return e.begin().Token().Reveal()
}

// version is the link row's version, which only the store and this test see.
func (e *env) version() int64 {
	e.t.Helper()
	row, err := e.store.KlarnaLink(context.Background(), e.url+"/klarna/api", e.user)
	if err != nil {
		e.t.Fatal(err)
	}
	return row.Version
}

func TestFirstPurchaseStoresTheTokenEncrypted(t *testing.T) {
	e := newEnv(t)
	tok := e.purchase("a1", true)
	if tok.IsZero() || e.stored() != tok.Reveal() {
		t.Fatalf("stored %q, Klarna returned %q", e.stored(), tok.Reveal())
	}
	var sealed, hint string
	if err := e.db.Read.QueryRow(`SELECT token_sealed, token_hint FROM klarna_links WHERE user_id = ?`, e.user).Scan(&sealed, &hint); err != nil {
		t.Fatal(err)
	}
	id := tok.Reveal()[strings.LastIndex(tok.Reveal(), ":")+1:]
	if strings.Contains(sealed, id) || strings.Contains(sealed, "krn:") || !strings.HasPrefix(sealed, "v1:") {
		t.Errorf("stored in the clear: %q", sealed)
	}
	if hint != secret.Mask(tok.Reveal()) || strings.Contains(hint, id) {
		t.Errorf("hint %q", hint)
	}
	st, _ := e.links.Status(context.Background(), e.user)
	if !st.Linked || st.LinkedAt.IsZero() || !st.RefreshedAt.Equal(st.LinkedAt) {
		t.Errorf("status %+v", st)
	}
}

func TestRotationReplacesTheStoredTokenAndKeepsTheLinkDate(t *testing.T) {
	e := newEnv(t)
	first := e.purchase("r1", true)
	linked, _ := e.links.Status(context.Background(), e.user)
	e.control("/control/settings", map[string]any{"klarna_rotate_customer_tokens": true})
	e.clock.Advance(time.Hour)
	second := e.purchase("r2", true)
	if second.Reveal() == first.Reveal() || e.stored() != second.Reveal() {
		t.Fatalf("stored %q after rotation to %q", e.stored(), second.Reveal())
	}
	st, _ := e.links.Status(context.Background(), e.user)
	if !st.LinkedAt.Equal(linked.LinkedAt) || !st.RefreshedAt.Equal(linked.LinkedAt.Add(time.Hour)) {
		t.Errorf("linked %v refreshed %v", st.LinkedAt, st.RefreshedAt)
	}
}

func TestOptOutKeepsTheStoredToken(t *testing.T) {
	e := newEnv(t)
	tok := e.purchase("o1", true)
	// Klarna no longer knows the link (the customer ended it in the Klarna
	// app; here the sandbox forgets everything): next time the widget asks
	// them to log in, and they opt out of linking again.
	e.control("/control/reset", nil)
	before := e.version()
	if got := e.purchase("o2", false); !got.IsZero() {
		t.Fatal("Klarna returned a token after opt-out")
	}
	after := e.version()
	if after != before || e.stored() != tok.Reveal() {
		t.Errorf("an answer without a token changed the link (v%d -> v%d)", before, after)
	}
}

func TestOptOutOnFirstPurchaseStoresNothing(t *testing.T) {
	e := newEnv(t)
	if tok := e.purchase("n1", false); !tok.IsZero() {
		t.Fatal("Klarna returned a token after opt-out")
	}
	if st, _ := e.links.Status(context.Background(), e.user); st.Linked {
		t.Error("linked after opting out")
	}
}

// Two orders approved with the same stored token finish at once with
// rotation on: Klarna makes A's token, then B's (which retires A's). Their
// answers reach the shop in either order, and the one recorded last is the
// latest response the shop has: it is stored, whichever it is. When that is
// A's retired token, the next purchase is not recognised, the customer logs
// in, and its answer's new token replaces it.
func TestConcurrentOrdersStoreTheLastAnswerAndARetiredOneHeals(t *testing.T) {
	for _, saveFirst := range []string{"older answer saved first", "newer answer saved first"} {
		t.Run(saveFirst, func(t *testing.T) {
			e := newEnv(t)
			e.purchase("base", true)
			e.control("/control/settings", map[string]any{"klarna_rotate_customer_tokens": true})
			ctx := context.Background()
			a, b := e.approve("A", true), e.approve("B", true)
			attA, attB := e.begin(), e.begin()
			tokA := e.order("A", a)
			tokB := e.order("B", b)
			if tokA.Reveal() == tokB.Reveal() {
				t.Fatal("the sandbox did not rotate the token")
			}
			last := tokB
			if saveFirst == "older answer saved first" {
				must(t, attA.Save(ctx, tokA))
				must(t, attB.Save(ctx, tokB))
			} else {
				must(t, attB.Save(ctx, tokB))
				must(t, attA.Save(ctx, tokA))
				last = tokA
			}
			if e.stored() != last.Reveal() {
				t.Fatalf("stored %q, want the answer saved last", e.stored())
			}
			e.control("/control/settings", map[string]any{"klarna_rotate_customer_tokens": false})
			next := e.purchase("C", true)
			if next.IsZero() || e.stored() != next.Reveal() {
				t.Fatalf("the next purchase stored %q, its answer carried %q", e.stored(), next.Reveal())
			}
			if last == tokA && next.Reveal() == tokA.Reveal() {
				t.Error("a retired token came back from Klarna")
			}
			if last == tokB && next.Reveal() != tokB.Reveal() {
				t.Errorf("the working token %q was recognised, yet Klarna answered with %q", tokB.Reveal(), next.Reveal())
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Many orders for one user at once, with rotation: whatever the
// interleaving, every save succeeds and the token left stored is one of the
// answers'.
func TestManyConcurrentOrdersLeaveOneOfTheirTokens(t *testing.T) {
	e := newEnv(t)
	e.purchase("base", true)
	e.control("/control/settings", map[string]any{"klarna_rotate_customer_tokens": true})
	const n = 8
	approvals := make([]approved, n)
	for i := range approvals {
		approvals[i] = e.approve(fmt.Sprintf("c%d", i), true)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	answers := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			att, err := e.links.Begin(ctx, e.user)
			if err != nil {
				errs <- err
				return
			}
			o, err := e.c.CreateOrder(ctx, approvals[i].auth, approvals[i].req, klarna.IdempotencyKey(fmt.Sprintf("c%d", i), "create_order"))
			if err != nil {
				errs <- err
				return
			}
			answers <- o.CustomerToken.Reveal()
			errs <- att.Save(ctx, o.CustomerToken)
		})
	}
	wg.Wait()
	close(errs)
	close(answers)
	for err := range errs {
		must(t, err)
	}
	if n := e.sb.State.Calls("klarna.create_order"); n != 1+8 {
		t.Errorf("create_order calls %d", n)
	}
	stored, found := e.stored(), false
	for a := range answers {
		found = found || a == stored
	}
	if !found {
		t.Errorf("stored %q, which no answer carried", stored)
	}
}

// Klarna documents no merchant call to cancel an account-linking token:
// unlinking forgets it in the shop and calls nothing.
func TestUnlinkForgetsWithoutCallingKlarna(t *testing.T) {
	e := newEnv(t)
	e.purchase("u1", true)
	calls := e.sb.State.View().Calls
	must(t, e.links.Unlink(context.Background(), e.user))
	if after := e.sb.State.View().Calls; fmt.Sprint(after) != fmt.Sprint(calls) {
		t.Errorf("unlink called Klarna: %v, then %v", calls, after)
	}
	if st, _ := e.links.Status(context.Background(), e.user); st.Linked || st.Masked != "" {
		t.Errorf("still linked: %+v", st)
	}
	if err := e.links.Unlink(context.Background(), e.user); err != link.ErrNotLinked {
		t.Errorf("second unlink: %v", err)
	}
	// A new purchase links afresh.
	if again := e.purchase("u2", true); again.IsZero() || e.stored() != again.Reveal() {
		t.Error("relinking failed")
	}
}

func TestUnlinkForgetsATokenKlarnaNoLongerKnows(t *testing.T) {
	e := newEnv(t)
	e.purchase("g1", true)
	e.control("/control/reset", nil) // Klarna forgot every token
	must(t, e.links.Unlink(context.Background(), e.user))
	if st, _ := e.links.Status(context.Background(), e.user); st.Linked {
		t.Error("still linked")
	}
}

// An order approved by logging in and agreeing to link finishes after
// another order stored a link: its answer is the latest word and is stored.
func TestALoggedInOrdersTokenIsStoredAfterAnotherLinkLanded(t *testing.T) {
	e := newEnv(t)
	old := e.purchase("d1", true)
	ctx := context.Background()
	must(t, e.links.Unlink(ctx, e.user))
	e.control("/control/reset", nil) // the customer also ended the link in the Klarna app
	att := e.begin()
	a := e.approve("d2", true) // nothing stored now: the customer logs in and links
	e.purchase("d3", true)     // another order links meanwhile
	tok := e.order("d2", a)
	must(t, att.Save(ctx, tok))
	if tok.IsZero() || tok.Reveal() == old.Reveal() || e.stored() != tok.Reveal() {
		t.Errorf("stored %q, the order returned %q", e.stored(), tok.Reveal())
	}
}

// An order recognised by the token the user then unlinked does not link
// again: Klarna still answers with the token (the shop cancels nothing at
// Klarna), and the shop does not store it.
func TestUnlinkBeforeARecognisedOrderFinishesStaysUnlinked(t *testing.T) {
	e := newEnv(t)
	e.purchase("e1", true)
	ctx := context.Background()
	att := e.begin()
	a := e.approve("e2", true) // recognised by the stored token
	must(t, e.links.Unlink(ctx, e.user))
	tok := e.order("e2", a)
	if tok.IsZero() {
		t.Fatal("Klarna returned no token for a recognised buy_and_link order")
	}
	must(t, att.Save(ctx, tok))
	if st, _ := e.links.Status(ctx, e.user); st.Linked {
		t.Error("linked again")
	}
}

// The log tells the token's life (stored, rotated, forgotten) by tags a
// person can compare, never the token.
func TestTheLogTellsTheCustomerTokensLife(t *testing.T) {
	e := newEnv(t)
	first := e.purchase("l1", true)
	e.control("/control/settings", map[string]any{"klarna_rotate_customer_tokens": true})
	second := e.purchase("l2", true)
	must(t, e.links.Unlink(context.Background(), e.user))
	log := e.logs.String()
	for _, want := range []string{
		"customer token stored", "customer_token=\"" + first.Tag() + "\"",
		"customer token rotated", "old_customer_token=\"" + first.Tag() + "\"", "customer_token=\"" + second.Tag() + "\"",
		"customer token forgotten",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	for _, tok := range []string{first.Reveal(), second.Reveal()} {
		if strings.Contains(log, tok[strings.LastIndex(tok, ":")+1:]) {
			t.Error("the log shows a customer token")
		}
	}
}
