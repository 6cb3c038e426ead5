package sandboxtest

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"refshop/web/clock"
	"refshop/web/sandbox/control"
	"refshop/web/sandbox/store"
)

func TestStartServesTheSandboxOnItsOwnOrigin(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	s := Start(t, control.Config{Vipps: control.VippsConfig{Enabled: true, ClientID: "id", ClientSecret: "sec", SubscriptionKey: "k", MSN: "1"}}, clk)
	if s.State.Config.BaseURL != s.URL {
		t.Errorf("BaseURL %q, want the server's %q", s.State.Config.BaseURL, s.URL)
	}
	s.Fault(t, "vipps.get_payment", 503, 2)
	s.Setting(t, "vipps_access_token_ttl", "90s")
	before := s.State.Now()
	s.Advance(t, "10m")
	if s.State.Now().Sub(before) != 10*time.Minute || s.State.Settings().VippsAccessTokenTTL.D() != 90*time.Second {
		t.Errorf("clock moved %v, settings %+v", s.State.Now().Sub(before), s.State.Settings())
	}
	if f := s.State.View().Faults["vipps.get_payment"]; f.Status != 503 || f.Times != 2 {
		t.Errorf("fault %+v", f)
	}
	res, err := http.Get(s.URL + "/control/state")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("state: %v", err)
	}
	res.Body.Close()
}

func TestSyncBufferTakesConcurrentWrites(t *testing.T) {
	log, buf := Log()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { log.Debug("line") })
	}
	wg.Wait()
	if n := strings.Count(buf.String(), "msg=line"); n != 8 {
		t.Errorf("%d lines, want 8", n)
	}
}

// A restart keeps the settings, the clock's offset (tokens already carry
// expiry times on it) and the call counts, which count since the last
// reset; pending faults end with the process. Reset forgets the rest.
func TestRestartKeepsSettingsClockAndCountsButNotFaults(t *testing.T) {
	clk := clock.NewManual(time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC))
	s := Start(t, control.Config{Vipps: control.VippsConfig{Enabled: true, ClientID: "id", ClientSecret: "sec", SubscriptionKey: "k", MSN: "1234"}}, clk)
	s.Setting(t, "vipps_access_token_ttl", "90s")
	s.Advance(t, "10m")
	s.Fault(t, "vipps.get_payment", 503, 2)
	for range 3 {
		res, err := http.Post(s.URL+"/vipps/accesstoken/get", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	before := s.State.View()

	s.Restart(t)
	after := s.State.View()
	if after.Settings != before.Settings || !after.Now.Equal(before.Now) || after.Calls["vipps.accesstoken"] != 3 {
		t.Errorf("after a restart: settings %+v, now %v, calls %v; before: %+v, %v, %v",
			after.Settings, after.Now, after.Calls, before.Settings, before.Now, before.Calls)
	}
	if len(after.Faults) != 0 {
		t.Errorf("faults survived the restart: %+v", after.Faults)
	}
	clk.Advance(time.Minute) // the base clock still counts after a restart
	if got := s.State.Now().Sub(before.Now); got != time.Minute {
		t.Errorf("the sandbox clock moved %v with its base clock's minute", got)
	}

	s.Control(t, "/control/reset", nil)
	s.Restart(t)
	if v := s.State.View(); v.Settings != control.DefaultSettings() || v.Calls["vipps.accesstoken"] != 0 || !v.Now.Equal(clk.Now()) {
		t.Errorf("after reset and a restart: %+v", v)
	}
}

// A test's sandbox never writes to the data dir its configuration names (a
// configuration with the defaults names the shop's ./data).
func TestStartKeepsStateInTheTestsOwnDirectory(t *testing.T) {
	shared := t.TempDir()
	s := Start(t, control.Config{DataDir: shared}, nil)
	s.Setting(t, "vipps_access_token_ttl", "90s")
	if _, err := os.Stat(filepath.Join(shared, store.FileName)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the sandbox wrote to the configured data dir: %v", err)
	}
}
