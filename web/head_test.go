package web

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"
)

// HEAD is answered wherever GET is, with GET's status and headers and no
// body, and runs the GET handler once.
func TestHeadIsAnsweredWhereverGetIs(t *testing.T) {
	app := newTestApp(t)
	var calls atomic.Int32
	app.echo.GET("/test/counted", func(c echo.Context) error {
		calls.Add(1)
		return c.String(http.StatusOK, "counted\n")
	})
	b := app.browser(t)
	for _, path := range []string{"/healthz", "/", "/products/sencha", "/cart", "/signin", "/static/css/shop.css", "/products/no-such-thing"} {
		get := b.get(path)
		req, _ := http.NewRequest(http.MethodHead, app.srv.URL+path, nil)
		head := b.do(req)
		if head.status != get.status || head.header.Get("Content-Type") != get.header.Get("Content-Type") {
			t.Errorf("HEAD %s: %d %q; GET: %d %q", path, head.status, head.header.Get("Content-Type"),
				get.status, get.header.Get("Content-Type"))
		}
	}
	if get := b.get("/healthz"); get.status != http.StatusOK {
		t.Fatalf("GET /healthz: %d", get.status)
	}

	req, _ := http.NewRequest(http.MethodHead, app.srv.URL+"/test/counted", nil)
	if p := b.do(req); p.status != http.StatusOK || calls.Load() != 1 {
		t.Fatalf("HEAD /test/counted: %d, the handler ran %d times, want 200 and once", p.status, calls.Load())
	}

	// Where only POST is served, HEAD is refused as GET is.
	req, _ = http.NewRequest(http.MethodHead, app.srv.URL+"/signout", nil)
	if p := b.do(req); p.status != http.StatusMethodNotAllowed {
		t.Fatalf("HEAD /signout: %d, want 405", p.status)
	}
}

// Go's client drops whatever follows a HEAD answer's headers, so this reads
// the wire itself: no body may follow them.
func TestHeadSendsNoBody(t *testing.T) {
	app := newTestApp(t)
	u, _ := url.Parse(app.srv.URL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("HEAD / HTTP/1.1\r\nHost: " + u.Host + "\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	status, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 200") {
		t.Fatalf("status line %q, %v", status, err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("headers: %v", err)
		}
		if line == "\r\n" {
			break
		}
	}
	rest := new(strings.Builder)
	if _, err := r.WriteTo(rest); err != nil {
		t.Fatal(err)
	}
	if rest.Len() != 0 {
		t.Fatalf("HEAD / sent a body of %d bytes: %.60q", rest.Len(), rest.String())
	}
}
