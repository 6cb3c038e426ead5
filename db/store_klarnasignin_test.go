package db_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"refshop/db"
)

// issuer is the Klarna environment the tests keep identities and grants
// under; klarnaRealIssuer another one.
const (
	issuer           = "http://localhost:8081/klarna/login"
	klarnaRealIssuer = "https://login.playground.klarna.com"
)

func klarnaTokens(rt, at string, exp time.Time) db.SealFunc {
	return func(int64) (db.KlarnaTokens, error) {
		return db.KlarnaTokens{RefreshToken: rt, RefreshExpires: exp.Add(60 * 24 * time.Hour), AccessToken: at, AccessExpires: exp, Scope: "openid"}, nil
	}
}

func TestCreateKlarnaUserNeverJoinsByEmail(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	pw, err := s.CreateUser(ctx, "ada@example.com", "Ada", "hash")
	if err != nil {
		t.Fatal(err)
	}
	id := db.KlarnaIdentity{Issuer: issuer, Sub: "krn:kuid:ada", Email: "ADA@example.com", Name: "Ada K"}
	if _, err := s.CreateKlarnaUser(ctx, "ADA@example.com", "Ada K", id, klarnaTokens("rt", "at", c.Now())); !errors.Is(err, db.ErrEmailTaken) {
		t.Fatalf("Klarna sign-in with a password account's email: %v, want ErrEmailTaken", err)
	}
	if _, err := s.KlarnaIdentityBySub(ctx, issuer, "krn:kuid:ada"); !errors.Is(err, db.ErrNotFound) {
		t.Fatal("a refused Klarna sign-in left an identity behind")
	}
	if _, err := s.KlarnaIdentityByUser(ctx, issuer, pw.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatal("the password account was connected")
	}
	u, err := s.CreateKlarnaUser(ctx, "klarna-ada@example.com", "Ada K", id, klarnaTokens("rt", "at", c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.KlarnaIdentityBySub(ctx, issuer, "krn:kuid:ada")
	if err != nil || got.UserID != u.ID {
		t.Fatalf("identity %+v %v", got, err)
	}
	if u2, _ := s.UserByID(ctx, u.ID); u2.PasswordHash != "" {
		t.Fatal("a Klarna account got a password")
	}
	// The same identity cannot make a second account.
	if _, err := s.CreateKlarnaUser(ctx, "third@example.com", "", id, klarnaTokens("rt", "at", c.Now())); !errors.Is(err, db.ErrKlarnaTaken) {
		t.Fatalf("second account for one identity: %v", err)
	}
}

// An identity and its grant belong to the issuer they were made with: from
// another issuer they are not there, cannot be claimed or refreshed, and
// are left alone by a disconnect; the same sub there is another identity.
func TestKlarnaIdentitiesAndGrantsArePerIssuer(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, "eve@example.com", "", "hash")
	sandbox := db.KlarnaIdentity{Issuer: issuer, Sub: "krn:kuid:eve", Email: "eve@klarna.test"}
	if _, err := s.ConnectKlarna(ctx, u.ID, sandbox, klarnaTokens("rt-sandbox", "at-sandbox", c.Now())); err != nil {
		t.Fatal(err)
	}
	g, err := s.KlarnaGrant(ctx, issuer, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.KlarnaIdentityBySub(ctx, klarnaRealIssuer, sandbox.Sub); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("the sandbox identity by sub from the real issuer: %v, want ErrNotFound", err)
	}
	if _, err := s.KlarnaIdentityByUser(ctx, klarnaRealIssuer, u.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("the account's identity from the real issuer: %v, want ErrNotFound", err)
	}
	if _, err := s.KlarnaGrant(ctx, klarnaRealIssuer, u.ID); !errors.Is(err, db.ErrNotFound) {
		t.Errorf("the sandbox grant from the real issuer: %v, want ErrNotFound", err)
	}
	if ok, err := s.ClaimKlarnaRefresh(ctx, klarnaRealIssuer, u.ID, g.Version, "a", c.Now().Add(time.Minute)); ok || err != nil {
		t.Errorf("the sandbox grant claimed for a refresh at the real issuer: %v %v", ok, err)
	}
	if err := s.DisconnectKlarna(ctx, klarnaRealIssuer, u.ID); err != nil {
		t.Fatal(err)
	}
	real := db.KlarnaIdentity{Issuer: klarnaRealIssuer, Sub: sandbox.Sub, Email: "eve@klarna.test"}
	if _, err := s.ConnectKlarna(ctx, u.ID, real, klarnaTokens("rt-real", "at-real", c.Now())); err != nil {
		t.Fatalf("connecting the same sub at the real issuer: %v", err)
	}
	for iss, want := range map[string]string{issuer: "rt-sandbox", klarnaRealIssuer: "rt-real"} {
		if g, err := s.KlarnaGrant(ctx, iss, u.ID); err != nil || g.RefreshToken != want || g.Issuer != iss {
			t.Errorf("%s: grant %q of %q, %v; want %q", iss, g.RefreshToken, g.Issuer, err, want)
		}
		if id, err := s.KlarnaIdentityBySub(ctx, iss, sandbox.Sub); err != nil || id.UserID != u.ID || id.Issuer != iss {
			t.Errorf("%s: identity %+v, %v", iss, id, err)
		}
	}
}

func TestConnectKlarna(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, "bo@example.com", "", "hash")
	id := db.KlarnaIdentity{Issuer: issuer, Sub: "krn:kuid:bo", Email: "bo@klarna.test", Name: "Bo"}
	prev, err := s.ConnectKlarna(ctx, u.ID, id, klarnaTokens("rt1", "at1", c.Now()))
	if err != nil || prev.RefreshToken != "" {
		t.Fatalf("first connect: %+v %v", prev, err)
	}
	prev, err = s.ConnectKlarna(ctx, u.ID, id, klarnaTokens("rt2", "at2", c.Now()))
	if err != nil || prev.RefreshToken != "rt1" {
		t.Fatalf("reconnect did not hand back the replaced grant: %+v %v", prev, err)
	}
	g, _ := s.KlarnaGrant(ctx, issuer, u.ID)
	if g.RefreshToken != "rt2" || g.Version != 2 {
		t.Fatalf("grant %+v", g)
	}
	if _, err := s.ConnectKlarna(ctx, u.ID, db.KlarnaIdentity{Issuer: issuer, Sub: "krn:kuid:other"}, klarnaTokens("x", "y", c.Now())); !errors.Is(err, db.ErrKlarnaConnected) {
		t.Fatalf("another identity: %v", err)
	}
	v, _ := s.CreateUser(ctx, "cy@example.com", "", "hash")
	if _, err := s.ConnectKlarna(ctx, v.ID, id, klarnaTokens("x", "y", c.Now())); !errors.Is(err, db.ErrKlarnaTaken) {
		t.Fatalf("identity of another account: %v", err)
	}
	// No refresh token granted: stored dead.
	w, _ := s.CreateUser(ctx, "di@example.com", "", "hash")
	if _, err := s.ConnectKlarna(ctx, w.ID, db.KlarnaIdentity{Issuer: issuer, Sub: "krn:kuid:di"}, klarnaTokens("", "at", c.Now())); err != nil {
		t.Fatal(err)
	}
	if g, _ := s.KlarnaGrant(ctx, issuer, w.ID); !g.Dead() || g.AccessToken != "" {
		t.Fatalf("grant without refresh token: %+v", g)
	}
	if err := s.DisconnectKlarna(ctx, issuer, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KlarnaGrant(ctx, issuer, u.ID); !errors.Is(err, db.ErrNotFound) {
		t.Fatal("disconnect left the grant")
	}
}

// Two stores on one file stand for two shop processes.
func TestOnlyOneClaimWinsAcrossProcesses(t *testing.T) {
	a, b, _ := twoProcesses(t)
	ctx := context.Background()
	now := time.Now()
	u, _ := a.CreateUser(ctx, "race@example.com", "", "hash")
	if _, err := a.ConnectKlarna(ctx, u.ID, db.KlarnaIdentity{Issuer: issuer, Sub: "krn:kuid:race"}, klarnaTokens("rt1", "at1", now)); err != nil {
		t.Fatal(err)
	}
	g, _ := a.KlarnaGrant(ctx, issuer, u.ID)
	var wins atomic.Int32
	var winner atomic.Value
	var wg sync.WaitGroup
	for i := range 40 {
		s, owner := a, "a"
		if i%2 == 1 {
			s, owner = b, "b"
		}
		owner += string(rune('0' + i%10))
		wg.Go(func() {
			ok, err := s.ClaimKlarnaRefresh(ctx, issuer, u.ID, g.Version, owner, now.Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
				winner.Store(owner)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d claims won, want 1", wins.Load())
	}
	owner := winner.Load().(string)
	// Only the winner may store the rotation, once.
	if ok, _ := b.RotateKlarnaGrant(ctx, issuer, u.ID, g.Version, "someone-else", db.KlarnaTokens{RefreshToken: "evil"}); ok {
		t.Fatal("a non-owner stored a rotation")
	}
	if ok, _ := a.RotateKlarnaGrant(ctx, issuer, u.ID, g.Version, owner, db.KlarnaTokens{RefreshToken: "rt2", AccessToken: "at2", AccessExpires: now.Add(5 * time.Minute)}); !ok {
		t.Fatal("the owner could not store its rotation")
	}
	if ok, _ := a.RotateKlarnaGrant(ctx, issuer, u.ID, g.Version, owner, db.KlarnaTokens{RefreshToken: "rt3"}); ok {
		t.Fatal("a second rotation on the same version was stored")
	}
	got, _ := b.KlarnaGrant(ctx, issuer, u.ID)
	if got.RefreshToken != "rt2" || got.Version != g.Version+1 || got.LeaseOwner != "" {
		t.Fatalf("after rotation: %+v", got)
	}
	// Kill is a compare-and-swap too: a stale version changes nothing.
	if ok, _ := a.KillKlarnaGrant(ctx, issuer, u.ID, g.Version, "", "stale"); ok {
		t.Fatal("kill on a stale version")
	}
	if ok, _ := a.KillKlarnaGrant(ctx, issuer, u.ID, got.Version, "", "invalid_grant"); !ok {
		t.Fatal("kill failed")
	}
	dead, _ := a.KlarnaGrant(ctx, issuer, u.ID)
	if !dead.Dead() || dead.RefreshToken != "" || dead.AccessToken != "" || dead.DeadReason != "invalid_grant" {
		t.Fatalf("dead grant %+v", dead)
	}
	if ok, _ := a.ClaimKlarnaRefresh(ctx, issuer, u.ID, dead.Version, "a", now.Add(time.Minute)); ok {
		t.Fatal("claimed a dead grant")
	}
}

// A claim not yet sending can be taken over once it ran out, and its holder
// then cannot record sending; a sending lease, or one still running, cannot
// be taken over.
func TestRefreshTakeOverOnlyBeforeSending(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	u, err := s.CreateKlarnaUser(ctx, "ida@example.com", "Ida", db.KlarnaIdentity{Issuer: issuer, Sub: "krn:kuid:ida"}, klarnaTokens("rt", "at", c.Now()))
	if err != nil {
		t.Fatal(err)
	}
	g, _ := s.KlarnaGrant(ctx, issuer, u.ID)
	now := c.Now()
	if ok, err := s.ClaimKlarnaRefresh(ctx, issuer, u.ID, g.Version, "a", now.Add(2*time.Second)); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if ok, _ := s.TakeOverKlarnaRefresh(ctx, issuer, u.ID, g.Version, "a", "b", now.Add(time.Second), now.Add(3*time.Second)); ok {
		t.Error("a claim still running was taken over")
	}
	if ok, err := s.TakeOverKlarnaRefresh(ctx, issuer, u.ID, g.Version, "a", "b", now.Add(2*time.Second), now.Add(4*time.Second)); !ok || err != nil {
		t.Fatalf("take over a claim that ran out: %v %v", ok, err)
	}
	if ok, _ := s.MarkKlarnaRefreshSending(ctx, issuer, u.ID, g.Version, "a", now.Add(time.Minute)); ok {
		t.Error("the replaced holder recorded sending: it would send the token the new holder sends")
	}
	if ok, err := s.MarkKlarnaRefreshSending(ctx, issuer, u.ID, g.Version, "b", now.Add(time.Minute)); !ok || err != nil {
		t.Fatalf("the holder recording sending: %v %v", ok, err)
	}
	if g, _ = s.KlarnaGrant(ctx, issuer, u.ID); !g.LeaseSending || g.LeaseOwner != "b" || !g.LeaseUntil.Equal(now.Add(time.Minute)) {
		t.Errorf("after sending: %+v", g)
	}
	if ok, _ := s.TakeOverKlarnaRefresh(ctx, issuer, u.ID, g.Version, "b", "c", now.Add(time.Hour), now.Add(time.Hour)); ok {
		t.Error("a sending lease was taken over")
	}
	if ok, _ := s.ReleaseKlarnaRefresh(ctx, issuer, u.ID, g.Version, "b"); !ok {
		t.Fatal("release")
	}
	if g, _ = s.KlarnaGrant(ctx, issuer, u.ID); g.LeaseSending || g.LeaseOwner != "" {
		t.Errorf("after release: %+v", g)
	}
}
