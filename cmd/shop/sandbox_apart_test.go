package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"refshop/web/config"
	"refshop/web/sandbox"
	"refshop/web/sandbox/sandboxtest"
)

// syncBuffer is a log written by the shop's goroutines while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The README's two-process walk, in one test: a sandbox provisioned as
// cmd/sandbox provisions itself with the default environment, and a shop
// given only SANDBOX_URL (and its own address and data).
func TestRunWithASandboxApart(t *testing.T) {
	shopAddr := freePort(t)
	sbCfg, err := config.LoadSandbox(func(k string) string { return map[string]string{"SHOP_ADDR": shopAddr}[k] })
	if err != nil {
		t.Fatal(err)
	}
	sc := sandbox.ConfigFrom(sbCfg)
	sc.BaseURL = "" // the test server's origin
	sb := sandboxtest.Start(t, sc, nil)

	env := map[string]string{"SHOP_ADDR": shopAddr, "SANDBOX_URL": sb.URL, "SHOP_DATA_DIR": t.TempDir(), "LOG_LEVEL": "WARN"}
	ctx, cancel := context.WithCancel(t.Context())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, func(k string) string { return env[k] }, &stdout, &stderr) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	waitFor(t, "http://"+shopAddr+"/healthz")

	// In sandbox mode the shop registers its Vipps webhook by itself at
	// start, with the default credentials the sandbox apart accepts.
	for deadline := time.Now().Add(10 * time.Second); sb.State.Calls("vipps.webhooks_register") == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the shop did not register its Vipps webhook at the sandbox apart; log:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a server coming up, not synchronising test logic
	}
	if n := sb.State.Calls("vipps.accesstoken"); n == 0 {
		t.Fatal("no access token fetched at the sandbox apart")
	}
	banner := stdout.String()
	for _, want := range []string{"Sandbox:  " + sb.URL + "  (running apart: SANDBOX_URL; its clock is followed)",
		"Vipps MobilePay              sandbox  " + sb.URL + "/vipps"} {
		if !strings.Contains(banner, want) {
			t.Errorf("the banner lacks %q:\n%s", want, banner)
		}
	}
	logs := stderr.String()
	if !strings.Contains(logs, "shop instances must share one public base URL") {
		t.Errorf("no warning about the derived SHOP_BASE_URL:\n%s", logs)
	}
	if strings.Contains(logs, "cannot read the sandbox's time") {
		t.Errorf("the shop could not read the sandbox's clock:\n%s", logs)
	}
}
