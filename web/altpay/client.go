package altpay

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"refshop/web/clock"
	"refshop/web/outbound"
	"refshop/web/secret"
)

// Config is what a Client needs.
type Config struct {
	BaseURL      string // https://public-api.demo.alternativepayments.io or the sandbox's /altpay
	ClientID     string // ALTPAY_CLIENT_ID
	ClientSecret secret.Secret

	HTTP  *http.Client // outbound.NewClient; nil: a plain client with a timeout
	Clock clock.Clock  // OAuth token expiry; nil: the wall clock
	Log   *slog.Logger

	// MaxAttempts bounds the tries of one call on network errors and 5xx
	// (0: 3). Backoff is the first wait; each next one doubles (0: 250ms).
	MaxAttempts int
	Backoff     time.Duration
	// Sleep waits between retries; tests replace it so they never sleep.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client calls the partner API. Safe for concurrent use; make one per process
// so the OAuth token is shared.
type Client struct {
	base   string
	hc     *http.Client
	log    *slog.Logger
	tokens *TokenSource
	retry  outbound.Policy
	// authPath is where checkout-auth/init answered last: the documented
	// /v1/checkout-auth/init (https://docs.alternativepayments.io/web-sdk/authentication),
	// or /checkout-auth/init after a 404 (a third-party client reports the live
	// path has no /v1; unconfirmed).
	authPath atomic.Pointer[string]
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 20 * time.Second}
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 250 * time.Millisecond
	}
	// Waits of 250ms, 500ms, ...: no jitter (one shop process calls, and the
	// waits are pinned by the tests).
	c := &Client{base: cfg.BaseURL, hc: cfg.HTTP, log: cfg.Log,
		retry: outbound.Policy{Attempts: cfg.MaxAttempts, Backoff: cfg.Backoff, Sleep: cfg.Sleep}}
	c.tokens = newTokenSource(c, cfg)
	return c
}

// Tokens is the client's OAuth token cache.
func (c *Client) Tokens() *TokenSource { return c.tokens }

// call is one partner API request.
type call struct {
	op     string // operation, as the sandbox names it: "create_invoice"
	method string
	path   string // the path as sent
	tmpl   string // the path template, for the log
	body   any
	header http.Header
	// once sends the call one time whatever happens: for a create the API
	// does not document as idempotent (POST /invoices), where a second try
	// after no answer or a 5xx could make a second object. The caller
	// decides what to do when the outcome is unknown (OutcomeUnknown).
	once bool
}

// do sends a call with the OAuth token and decodes a 2xx reply into out.
// A 401 drops the cached token and repeats the call once with a new one (the
// API refused a token we thought valid: revoked, or its clock is ahead; a
// refused request did nothing, so this is safe for every call). Network
// errors and 5xx answers are retried with backoff, at most retry.retries
// times, except for a call sent once (call.once). An error that leaves the
// call's outcome unknown says so (OutcomeUnknown).
func (c *Client) do(ctx context.Context, cl call, out any) error {
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return &Error{Op: cl.op, Kind: KindInvalid, Message: "encoding the request", err: err}
		}
	}
	ctx = outbound.WithOp(ctx, outbound.Op{Provider: "altpay", Name: cl.op, Path: cl.tmpl})
	reauthed := false
	err := outbound.Retry(ctx, c.retry, func(ctx context.Context, attempt int) (bool, error) {
		for {
			tok, err := c.tokens.Token(ctx)
			if err != nil {
				return false, notSent(err)
			}
			status, hdr, body, err := c.send(ctx, cl, payload, tok)
			switch {
			case err == nil && status == http.StatusUnauthorized && !reauthed:
				// Once per call, and not counted as a try.
				c.tokens.Invalidate(tok)
				reauthed = true
				continue
			case err == nil && status < 300:
				if out == nil || len(body) == 0 {
					return false, nil
				}
				if err := json.Unmarshal(body, out); err != nil {
					// The call was carried out; what it made is unknown.
					return false, &Error{Op: cl.op, Kind: KindUnavailable, Message: "unreadable reply: " + err.Error(), err: err, unknown: true}
				}
				return false, nil
			case err == nil:
				err = decodeError(cl.op, status, hdr, body)
			default:
				err = noAnswer(cl.op, err)
			}
			if cl.once {
				return false, err
			}
			return c.retryLater(ctx, cl.op, attempt, err), err
		}
	})
	if ie, ok := err.(*outbound.Interrupted); ok {
		return ie.Last
	}
	return err
}

// retryLater reports whether a failed try is worth another, and logs it
// when one will follow.
func (c *Client) retryLater(ctx context.Context, op string, attempt int, err error) bool {
	again := retryable(err)
	if again && attempt < c.retry.Attempts && ctx.Err() == nil {
		c.log.InfoContext(ctx, "altpay call will be retried", "operation", op, "attempt", attempt, "error", err.Error())
	}
	return again
}

func (c *Client) send(ctx context.Context, cl call, payload []byte, tok secret.Secret) (int, http.Header, []byte, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, c.base+cl.path, body)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range cl.header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+tok.Reveal())
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, b, nil
}
