// Package outbound is the one HTTP client the shop uses to call providers:
// timeouts, and one slog line per call naming the provider, the operation, the
// status, the duration and the provider's correlation id. URLs are never
// logged as sent, because Klarna puts tokens in paths; each call is labelled
// with its operation and path template instead.
package outbound

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Op labels one provider call for the log.
type Op struct {
	Provider string // "klarna", "vipps", "altpay"
	Name     string // "create_session", matching the sandbox's operation names
	Path     string // the path template, e.g. "/payments/v1/authorizations/{token}/order"
}

type opKey struct{}

// WithOp returns ctx carrying op; requests made with it are logged under op.
func WithOp(ctx context.Context, op Op) context.Context {
	return context.WithValue(ctx, opKey{}, op)
}

// OpFrom returns the op carried by ctx.
func OpFrom(ctx context.Context) (Op, bool) {
	op, ok := ctx.Value(opKey{}).(Op)
	return op, ok
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the id of the shop request that causes
// the provider calls made with it, so each call's log line can be tied to
// the page that caused it. It survives context.WithoutCancel: work that
// outlives its request still names it.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the shop request id ctx carries, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// correlationHeaders are the response headers providers use to name a request
// for their support staff, in the order they are tried.
var correlationHeaders = []string{"Klarna-Correlation-Id", "Correlation-Id", "X-Correlation-Id", "Request-Id", "X-Request-Id", "traceparent"}

// NewClient returns the shop's outbound HTTP client. timeout bounds each whole
// call; 0 means 20 seconds. rec, when not nil, records every exchange
// (Recording).
func NewClient(log *slog.Logger, timeout time.Duration, rec *Recorder) *http.Client {
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	base := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: &Recording{Next: &Logging{Next: base, Log: log}, Rec: rec},
		// Provider APIs answer; they do not redirect. Following a redirect could
		// carry credentials to another host.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Logging is a RoundTripper that writes one slog line per call.
type Logging struct {
	Next http.RoundTripper
	Log  *slog.Logger
}

func (l *Logging) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := l.Next.RoundTrip(req)
	op, ok := OpFrom(req.Context())
	if !ok {
		op = Op{Provider: req.URL.Host, Name: "unlabelled", Path: "(not logged)"}
	}
	attrs := []slog.Attr{
		slog.String("provider", op.Provider),
		slog.String("operation", op.Name),
		slog.String("method", req.Method),
		slog.String("path", op.Path),
		slog.Duration("duration", time.Since(start)),
	}
	if id := RequestIDFrom(req.Context()); id != "" {
		attrs = append(attrs, slog.String("request_id", id))
	}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("error", errorKind(err)))
	} else {
		attrs = append(attrs, slog.Int("status", resp.StatusCode))
		for _, h := range correlationHeaders {
			if v := resp.Header.Get(h); v != "" {
				attrs = append(attrs, slog.String("correlation_id", v))
				break
			}
		}
		if resp.StatusCode >= 500 {
			level = slog.LevelWarn
		}
	}
	l.Log.LogAttrs(req.Context(), level, "provider call", attrs...)
	return resp, err
}

// errorKind describes a transport error without its text, which can contain
// the full URL.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	default:
		return "network"
	}
}
