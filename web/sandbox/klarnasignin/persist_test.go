package klarnasignin_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"refshop/web/sandbox/store"
)

// A restart changes nothing the shop can see: its access token still
// answers userinfo, its refresh token still refreshes, the ID token it
// verified still verifies against the JWKS, a code not yet exchanged still
// exchanges, a sign-in page left open still signs in, and what was used or
// revoked stays so, across the whole grant. Reset forgets it all, for good.
func TestGrantsSurviveARestart(t *testing.T) {
	e, sb := newSandboxEnv(t)
	first := e.signIn("anna.schmidt@example.com")
	res, second := e.refresh(first["refresh_token"].(string))
	if res.StatusCode != 200 {
		t.Fatalf("refresh: %d %v", res.StatusCode, second)
	}
	pending := e.autoCode("jonas.weber@example.com", e.authParams())
	e.setting(`{"klarna_auto_consent": ""}`)
	_, page := e.get("/klarna/login/eu/lp/idp/oauth2/auth", e.authParams())
	challenge := regexp.MustCompile(`name="challenge" value="([^"]+)"`).FindStringSubmatch(page)
	if challenge == nil {
		t.Fatal("no challenge on the sign-in page")
	}
	userinfo := func(at any) int {
		t.Helper()
		req, _ := http.NewRequest("GET", e.url+"/klarna/login/eu/lp/idp/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+at.(string))
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readBody(t, res)
		return res.StatusCode
	}

	sb.Restart(t)
	e.st = sb.State
	if got := userinfo(second["access_token"]); got != 200 {
		t.Errorf("userinfo with the access token from before the restart: %d", got)
	}
	if got := userinfo(first["access_token"]); got != 401 {
		t.Errorf("userinfo with the access token a refresh replaced: %d, want 401", got)
	}
	if claims := e.verifyIDToken(second["id_token"].(string)); claims["sub"] == nil {
		t.Errorf("ID token from before the restart: %v", claims)
	}
	if res, tok := e.exchange(pending); res.StatusCode != 200 {
		t.Errorf("a code issued before the restart: %d %v", res.StatusCode, tok)
	}
	res, _ = e.postForm("/klarna/login/eu/lp/idp/signin", url.Values{"challenge": {challenge[1]}, "email": {"mia.svensson@example.com"}}, false)
	if res.StatusCode != 200 {
		t.Errorf("a sign-in page opened before the restart: %d", res.StatusCode)
	}
	// The used refresh token comes back: the whole grant ends, the refresh
	// token and access token issued before the restart included.
	if res, body := e.refresh(first["refresh_token"].(string)); res.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("reused refresh token after a restart: %d %v", res.StatusCode, body)
	}
	if res, body := e.refresh(second["refresh_token"].(string)); res.StatusCode != 400 {
		t.Errorf("refresh token of a grant revoked for reuse: %d %v", res.StatusCode, body)
	}
	if got := userinfo(second["access_token"]); got != 401 {
		t.Errorf("access token of a grant revoked for reuse: %d", got)
	}

	fresh := e.signIn("anna.schmidt@example.com")
	if res, err := http.Post(e.url+"/control/reset", "", nil); err != nil || res.StatusCode != 200 {
		t.Fatalf("reset: %v", err)
	}
	sb.Restart(t)
	if got := userinfo(fresh["access_token"]); got != 401 {
		t.Errorf("after reset and a restart: userinfo %d, want 401", got)
	}
}

// ID tokens are signed with the key the store kept, so those signed before
// a restart still verify after it. (Within one test process the key would be
// the same either way, so this test stores another one.)
func TestTheStoredSigningKeyIsTheOneUsed(t *testing.T) {
	e := newEnv(t, clientSecret)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(jose.JSONWebKey{Key: k, KeyID: "public:stored", Algorithm: string(jose.RS256), Use: "sig"})
	if err := e.p.Restore(store.Loaded{"key": {"id_token": raw}}); err != nil {
		t.Fatal(err)
	}
	tok := e.signIn("anna.schmidt@example.com")
	e.verifyIDToken(tok["id_token"].(string)) // the JWKS key signed it
	_, body := e.get("/klarna/login/eu/lp/idp/.well-known/jwks.json", nil)
	if !strings.Contains(body, `"kid":"public:stored"`) {
		t.Errorf("JWKS %s, want the stored key", body)
	}
	for _, o := range e.p.Dump() {
		if o.Kind != "key" || o.ID != "id_token" { // Europe's; North America's is its own
			continue
		}
		var dumped jose.JSONWebKey
		if err := json.Unmarshal(o.Value.(json.RawMessage), &dumped); err != nil {
			t.Fatal(err)
		}
		if dumped.KeyID != "public:stored" {
			t.Errorf("Dump gives key %q back, want the stored one", dumped.KeyID)
		}
	}

	public, _ := json.Marshal(jose.JSONWebKey{Key: &k.PublicKey, KeyID: "public:only", Algorithm: string(jose.RS256), Use: "sig"})
	if err := e.p.Restore(store.Loaded{"key": {"id_token": public}}); err == nil {
		t.Error("Restore took a public key to sign with")
	}
}
