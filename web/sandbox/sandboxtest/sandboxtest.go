// Package sandboxtest runs the provider sandbox in tests: on an httptest
// server closed when the test ends, with helpers for its control API, and a
// log buffer tests can read while clients write to it.
//
// Only _test.go files import it, so the shop's client packages never import
// the sandbox in what they build: the client and the sandbox each implement
// the documented contract on their own, so a misreading cannot hide by being
// shared.
package sandboxtest

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"refshop/web/clock"
	"refshop/web/sandbox"
	"refshop/web/sandbox/control"
)

// Server is a sandbox served by an httptest server.
type Server struct {
	*sandbox.Sandbox        // State (clock, counts) and the handler
	URL              string // the server's origin, http://127.0.0.1:port
	Server           *httptest.Server

	cfg     control.Config
	base    clock.Clock
	serving atomic.Pointer[sandbox.Sandbox]
}

// Start provisions a sandbox with cfg and serves it until the test ends. An
// empty cfg.BaseURL becomes the server's own origin, so the URLs the sandbox
// hands out (landing pages, redirects, the issuer) point at it. The sandbox
// keeps its state in a directory of the test's own, whatever cfg.DataDir
// says: a configuration loaded with the defaults names the shop's ./data,
// which no test may share. base is the clock the sandbox clock runs on (nil:
// the wall clock).
func Start(tb testing.TB, cfg control.Config, base clock.Clock) *Server {
	tb.Helper()
	srv := httptest.NewUnstartedServer(nil)
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://" + srv.Listener.Addr().String()
	}
	cfg.DataDir = tb.TempDir()
	s := &Server{URL: "http://" + srv.Listener.Addr().String(), Server: srv, cfg: cfg, base: base}
	s.open(tb)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.serving.Load().ServeHTTP(w, r) })
	srv.Start()
	tb.Cleanup(func() {
		srv.Close()
		_ = s.Sandbox.Close()
	})
	return s
}

// open builds the sandbox from the configuration and what its data dir
// holds, and serves it from now on.
func (s *Server) open(tb testing.TB) {
	tb.Helper()
	sb, err := sandbox.New(s.cfg, slog.New(slog.DiscardHandler), s.base)
	if err != nil {
		tb.Fatal(err)
	}
	s.Sandbox = sb
	s.serving.Store(sb)
}

// Restart stops the sandbox and starts a new one on the same data dir,
// clock and URL, as restarting its process would: what it kept in memory is
// gone, what it stored is back. Make no requests while it runs.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	if err := s.Sandbox.Close(); err != nil {
		tb.Fatal(err)
	}
	s.open(tb)
}

// Control POSTs body as JSON to a control route ("/control/settings") and
// returns the decoded answer; any status but 200 fails the test.
func (s *Server) Control(tb testing.TB, path string, body any) map[string]any {
	tb.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := http.Post(s.URL+path, "application/json", bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if res.StatusCode != http.StatusOK {
		tb.Fatalf("%s: %d %s", path, res.StatusCode, raw)
	}
	return out
}

// Fault queues a fault: the next times calls of op fail with status in the
// provider's own error shape.
func (s *Server) Fault(tb testing.TB, op string, status, times int) {
	tb.Helper()
	s.Control(tb, "/control/faults", map[string]any{"operation": op, "status": status, "times": times})
}

// Delay makes the next times calls of op wait delay (a Go duration string)
// and then answer as usual: a real wait, for tests with a tiny shop deadline.
func (s *Server) Delay(tb testing.TB, op, delay string, times int) {
	tb.Helper()
	s.Control(tb, "/control/faults", map[string]any{"operation": op, "status": 0, "delay": delay, "times": times})
}

// Setting changes one sandbox setting.
func (s *Server) Setting(tb testing.TB, name string, value any) {
	tb.Helper()
	s.Control(tb, "/control/settings", map[string]any{name: value})
}

// Advance moves the sandbox clock forward by a Go duration string ("61m").
func (s *Server) Advance(tb testing.TB, by string) {
	tb.Helper()
	s.Control(tb, "/control/clock", map[string]any{"advance": by})
}

// SyncBuffer is a bytes.Buffer safe for a logger in one goroutine and a test
// reading in another.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Log is a text logger at level Debug writing to a new SyncBuffer.
func Log() (*slog.Logger, *SyncBuffer) {
	buf := &SyncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}
