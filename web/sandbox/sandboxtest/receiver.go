package sandboxtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Received is one request a Receiver got.
type Received struct {
	Method string
	Path   string // the request URI: path and query
	Host   string
	Header http.Header
	Body   []byte
}

// Receiver stands in for the shop's endpoint for the providers' events
// (webhooks, callbacks, notifications): it keeps every request and answers
// each with the next status of its script (200 once the script is used up).
type Receiver struct {
	URL string // its origin, http://127.0.0.1:port

	mu     sync.Mutex
	got    []Received
	script []int
}

// NewReceiver starts a Receiver, closed when the test ends.
func NewReceiver(t *testing.T) *Receiver {
	rc := &Receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, Received{Method: r.Method, Path: r.URL.RequestURI(), Host: r.Host, Header: r.Header.Clone(), Body: b})
		status := http.StatusOK
		if len(rc.script) > 0 {
			status, rc.script = rc.script[0], rc.script[1:]
		}
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	rc.URL = srv.URL
	return rc
}

// Answer sets the statuses of the next requests.
func (rc *Receiver) Answer(statuses ...int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.script = statuses
}

// Requests is every request received so far, in order.
func (rc *Receiver) Requests() []Received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]Received(nil), rc.got...)
}
