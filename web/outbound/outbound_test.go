package outbound

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestOneRedactedLinePerCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Klarna-Correlation-Id", "corr-123")
		w.WriteHeader(http.StatusConflict)
	}))
	defer srv.Close()
	var logs bytes.Buffer
	c := NewClient(slog.New(slog.NewTextHandler(&logs, nil)), 0, nil)
	ctx := WithOp(context.Background(), Op{Provider: "klarna", Name: "customer_token_order", Path: "/customer-token/v1/tokens/{token}/order"})
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/customer-token/v1/tokens/krn:secret-token-value/order?x=secret-query", nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	line := logs.String()
	if strings.Count(line, "\n") != 1 {
		t.Fatalf("want one line, got %q", line)
	}
	for _, want := range []string{"provider=klarna", "operation=customer_token_order", "status=409", "correlation_id=corr-123", "path=/customer-token/v1/tokens/{token}/order"} {
		if !strings.Contains(line, want) {
			t.Errorf("log line lacks %q: %s", want, line)
		}
	}
	if strings.Contains(line, "secret-token-value") || strings.Contains(line, "secret-query") {
		t.Errorf("the log line shows the URL as sent: %s", line)
	}
}

func TestTransportErrorsAreLoggedWithoutTheirText(t *testing.T) {
	var logs bytes.Buffer
	c := NewClient(slog.New(slog.NewTextHandler(&logs, nil)), 0, nil)
	req, _ := http.NewRequest("GET", "http://127.0.0.1:1/secret-path", nil)
	if _, err := c.Do(req); err == nil {
		t.Fatal("want a connection error")
	}
	if line := logs.String(); !strings.Contains(line, "error=network") || strings.Contains(line, "secret-path") {
		t.Fatalf("log line: %s", line)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
	}))
	defer srv.Close()
	c := NewClient(slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), 0, nil)
	res, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		t.Fatalf("status %d: the redirect was followed", res.StatusCode)
	}
}

func TestTheCallNamesTheShopRequestThatCausedIt(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var logs bytes.Buffer
	c := NewClient(slog.New(slog.NewTextHandler(&logs, nil)), 0, nil)
	// Work that outlives its request keeps the id (context.WithoutCancel).
	ctx := context.WithoutCancel(WithRequestID(context.Background(), "req-abc"))
	req, _ := http.NewRequestWithContext(WithOp(ctx, Op{Provider: "vipps", Name: "get_payment"}), "GET", srv.URL, nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if !strings.Contains(logs.String(), "request_id=req-abc") {
		t.Errorf("the line does not name the shop request: %s", logs.String())
	}
}
