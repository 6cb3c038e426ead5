package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildShop compiles cmd/shop into dir and returns the binary's path. The
// suite runs the real binary, as a user would, so it needs nothing of the
// shop's packages.
func buildShop(ctx context.Context, dir string) (string, error) {
	root, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root (run from inside the repository): %w", err)
	}
	bin := filepath.Join(dir, "shop")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/shop")
	cmd.Dir = strings.TrimSpace(string(root))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/shop: %v\n%s", err, out)
	}
	return bin, nil
}

// credentials are the provider credentials of one suite run. They are fresh
// values, not the built-in defaults: the sandbox accepts exactly what the
// shop is configured with, and the suite reads the providers' APIs with the
// same values.
type credentials struct {
	KlarnaUsername, KlarnaPassword                         string
	KlarnaNAUsername, KlarnaNAPassword                     string // North America's merchant account
	KlarnaClientID, KlarnaClientSecret                     string
	VippsClientID, VippsClientSecret, VippsSubscriptionKey string
	VippsMSN                                               string
	AltpayClientID, AltpayClientSecret                     string
}

func newCredentials() credentials {
	return credentials{
		KlarnaUsername: "PK_faults_refshop", KlarnaPassword: randomHex(16),
		KlarnaNAUsername: "PN_faults_refshop", KlarnaNAPassword: randomHex(16),
		KlarnaClientID: "refshop-faults-client", KlarnaClientSecret: randomHex(16),
		VippsClientID: "6a7b8c9d-0e1f-4a2b-8c3d-4e5f6a7b8c9d", VippsClientSecret: randomHex(16),
		VippsSubscriptionKey: randomHex(16), VippsMSN: "654321",
		AltpayClientID: "refshop-faults-altpay", AltpayClientSecret: randomHex(16),
	}
}

func (c credentials) env() []string {
	return []string{
		"KLARNA_USERNAME=" + c.KlarnaUsername, "KLARNA_PASSWORD=" + c.KlarnaPassword,
		"KLARNA_NA_USERNAME=" + c.KlarnaNAUsername, "KLARNA_NA_PASSWORD=" + c.KlarnaNAPassword,
		"KLARNA_CLIENT_ID=" + c.KlarnaClientID, "KLARNA_CLIENT_SECRET=" + c.KlarnaClientSecret,
		"VIPPS_CLIENT_ID=" + c.VippsClientID, "VIPPS_CLIENT_SECRET=" + c.VippsClientSecret,
		"VIPPS_SUBSCRIPTION_KEY=" + c.VippsSubscriptionKey, "VIPPS_MSN=" + c.VippsMSN,
		"ALTPAY_CLIENT_ID=" + c.AltpayClientID, "ALTPAY_CLIENT_SECRET=" + c.AltpayClientSecret,
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// shopProcess is one shop process with its embedded sandbox, on ports and a
// data dir of its own. Restart keeps both, as a real restart would.
type shopProcess struct {
	name       string
	bin        string
	dataDir    string
	logPath    string
	creds      credentials
	shopAddr   string
	sbAddr     string
	ShopURL    string
	SandboxURL string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
	starts int
}

// newShopProcess picks free ports and a data dir under dir; Start runs it.
func newShopProcess(name, bin, dir string, creds credentials) (*shopProcess, error) {
	shopAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	sbAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, name)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	return &shopProcess{
		name: name, bin: bin, dataDir: dataDir, logPath: filepath.Join(dir, name+".log"), creds: creds,
		shopAddr: shopAddr, sbAddr: sbAddr, ShopURL: "http://" + shopAddr, SandboxURL: "http://" + sbAddr,
	}, nil
}

// freeAddr asks the kernel for a free port on the loopback interface. Another
// process could take it before the shop listens; the shop then fails to
// start with a clear message, and the suite reports it.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// environ is the suite's environment without any of the shop's own
// variables (a developer's VIPPS_API_URL must not send the suite to a real
// provider), plus this process's configuration.
func (s *shopProcess) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "SHOP_"), strings.HasPrefix(name, "SANDBOX_"), strings.HasPrefix(name, "KLARNA_"),
			strings.HasPrefix(name, "VIPPS_"), strings.HasPrefix(name, "ALTPAY_"), name == "DATABASE_URL", name == "LOG_LEVEL":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "SHOP_ADDR="+s.shopAddr, "SHOP_BASE_URL="+s.ShopURL, "SANDBOX_ADDR="+s.sbAddr,
		"SHOP_DATA_DIR="+s.dataDir, "LOG_LEVEL=DEBUG")
	return append(env, s.creds.env()...)
}

// Start runs the shop and waits until both its origins answer.
func (s *shopProcess) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		return errors.New("already running")
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.starts++
	fmt.Fprintf(logf, "\n===== faults: start %d of %s =====\n", s.starts, s.name)
	// Not CommandContext: the suite decides when the shop dies (Kill, Stop).
	cmd := exec.Command(s.bin)
	cmd.Env = s.environ()
	cmd.Stdout, cmd.Stderr = logf, logf
	dieWithSuite(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.mu.Unlock()
		return err
	}
	exited := make(chan struct{})
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	return s.waitReady(ctx, exited)
}

// waitReady polls the shop's /healthz and the sandbox's /control/state.
func (s *shopProcess) waitReady(ctx context.Context, exited chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	up := func(url string) bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		res, err := client.Do(req)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}
	for {
		if up(s.ShopURL+"/healthz") && up(s.SandboxURL+"/control/state") {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited while starting:\n%s", s.name, s.logTail(20))
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer within 30s:\n%s", s.name, s.logTail(20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Kill ends the process with SIGKILL, as a crash or an OOM kill would: no
// shutdown, no flushing, whatever was in flight is lost.
func (s *shopProcess) Kill() {
	s.signalAndWait(syscall.SIGKILL, 0)
}

// Stop asks the process to shut down (SIGTERM) and kills it after 10s.
func (s *shopProcess) Stop() {
	s.signalAndWait(syscall.SIGTERM, 10*time.Second)
}

func (s *shopProcess) signalAndWait(sig syscall.Signal, grace time.Duration) {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-exited:
			return
		case <-time.After(grace):
			_ = cmd.Process.Kill()
		}
	}
	<-exited
}

// Restart kills the process and starts it again on the same ports and data
// dir.
func (s *shopProcess) Restart(ctx context.Context) error {
	s.Kill()
	return s.Start(ctx)
}

// logTail is the last n lines of the process's log, for error messages.
func (s *shopProcess) logTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// running reports whether the process is up (started and not killed).
func (s *shopProcess) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}
