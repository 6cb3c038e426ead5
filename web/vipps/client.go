package vipps

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"refshop/web/clock"
	"refshop/web/outbound"
	"refshop/web/secret"
)

// System names this shop in the four Vipps-System-* headers, which Vipps
// uses to find a merchant's requests in its logs. Each value is at most 30
// characters (longer values are cut).
type System struct {
	Name, Version, PluginName, PluginVersion string
}

// DefaultSystem is refshop's own.
var DefaultSystem = System{Name: "refshop", Version: "1.0.0", PluginName: "refshop-vipps", PluginVersion: "1.0.0"}

// Config is what a Client needs. BaseURL is https://apitest.vipps.no in the
// test environment or the sandbox's /vipps base.
type Config struct {
	BaseURL         string
	ClientID        string
	ClientSecret    secret.Secret
	SubscriptionKey secret.Secret
	MSN             string
	System          System

	HTTP  *http.Client // outbound.NewClient; nil: a plain client with a timeout
	Clock clock.Clock  // token expiry; nil: the wall clock
	Log   *slog.Logger

	// MaxAttempts bounds the tries of one call on network errors and 5xx
	// (0: 3). Backoff is the first wait; each next one doubles (0: 300ms).
	MaxAttempts int
	Backoff     time.Duration
	// TokenMargin is how long before expires_on a token is replaced (0: 2
	// minutes, never more than a quarter of the token's lifetime).
	TokenMargin time.Duration
	// Sleep waits between retries; tests replace it so they never sleep.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client calls Vipps MobilePay. Safe for concurrent use; make one per process
// so the access token is shared.
type Client struct {
	baseURL         string
	clientID        string
	clientSecret    secret.Secret
	subscriptionKey secret.Secret
	msn             string
	system          System
	http            *http.Client
	log             *slog.Logger
	retry           outbound.Policy
	tokens          *tokens
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	c := &Client{
		baseURL: strings.TrimRight(cfg.BaseURL, "/"), clientID: cfg.ClientID, clientSecret: cfg.ClientSecret,
		subscriptionKey: cfg.SubscriptionKey, msn: cfg.MSN, system: cfg.System, http: cfg.HTTP, log: cfg.Log,
		// Doubling from Backoff, plus up to half of each wait in jitter so
		// that retries from many processes do not arrive together.
		retry: outbound.Policy{Attempts: cfg.MaxAttempts, Backoff: cfg.Backoff, Jitter: 0.5, Sleep: cfg.Sleep},
	}
	if c.system == (System{}) {
		c.system = DefaultSystem
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: 20 * time.Second}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.retry.Attempts <= 0 {
		c.retry.Attempts = 3
	}
	if c.retry.Backoff <= 0 {
		c.retry.Backoff = 300 * time.Millisecond
	}
	clk := cfg.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	margin := cfg.TokenMargin
	if margin <= 0 {
		margin = 2 * time.Minute
	}
	c.tokens = &tokens{c: c, clock: clk, margin: margin}
	return c
}

// cut30 keeps a system header within its documented 30 characters.
func cut30(s string) string {
	if len(s) > 30 {
		return s[:30]
	}
	return s
}

// setCommon sets the headers every call carries: the subscription key, the
// merchant serial number and the system headers.
func (c *Client) setCommon(h http.Header) {
	h.Set("Ocp-Apim-Subscription-Key", c.subscriptionKey.Reveal())
	h.Set("Merchant-Serial-Number", c.msn)
	h.Set("Vipps-System-Name", cut30(c.system.Name))
	h.Set("Vipps-System-Version", cut30(c.system.Version))
	h.Set("Vipps-System-Plugin-Name", cut30(c.system.PluginName))
	h.Set("Vipps-System-Plugin-Version", cut30(c.system.PluginVersion))
}

// response is a read answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errServerError marks a try answered with a 5xx, for outbound.Retry.
var errServerError = errors.New("vipps: 5xx answer")

// withRetry sends the request build makes, again after a network error or a
// 5xx, as c.retry allows. Other answers (including 4xx) return at once; the
// last 5xx is returned for the caller to decode. build runs per attempt, so
// the body and headers (the same Idempotency-Key) are sent anew each time,
// with the ctx it is given (outbound.Retry's: the recorder numbers the tries).
// p is c.retry, or a call's own (call.once).
func (c *Client) withRetry(ctx context.Context, p outbound.Policy, op outbound.Op, build func(ctx context.Context) (*http.Request, error)) (response, error) {
	var out response
	var tries int
	var buildErr error
	err := outbound.Retry(ctx, p, func(callCtx context.Context, attempt int) (bool, error) {
		tries = attempt
		out = response{}
		req, err := build(callCtx)
		if err != nil {
			buildErr = err
			return false, err
		}
		res, err := c.http.Do(req)
		if err == nil {
			body, rerr := io.ReadAll(io.LimitReader(res.Body, 1<<20))
			res.Body.Close()
			if rerr != nil {
				err = rerr
			} else {
				out = response{status: res.StatusCode, header: res.Header, body: body}
				if res.StatusCode < 500 {
					return false, nil
				}
				err = errServerError
			}
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if attempt < p.Attempts {
			what := fmt.Sprintf("status %d", out.status)
			if err != errServerError {
				what = "network error: " + describe(err)
			}
			c.log.InfoContext(ctx, "vipps call will be retried", "operation", op.Name, "attempt", attempt, "after", what)
		}
		return true, err
	})
	var ie *outbound.Interrupted
	switch {
	case buildErr != nil:
		return response{}, buildErr
	case err == nil, err == errServerError:
		return out, nil // an answer below 500, or the last 5xx: the caller decodes it
	case errors.As(err, &ie):
		return response{}, &Error{Op: op.Name, Kind: KindUnavailable, err: ie.Err}
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return response{}, &Error{Op: op.Name, Kind: KindUnavailable, err: ctx.Err()}
	}
	e := &Error{Op: op.Name, Kind: KindUnavailable, err: errors.New("network error: " + describe(err))}
	c.log.WarnContext(ctx, "vipps call failed", "operation", op.Name, "attempts", tries, "error", e.Error())
	return response{}, e
}

// describe names a transport error without its text, which holds the URL.
func describe(err error) string {
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return "timeout"
	}
	return "connection failed"
}

// call is one ePayment request.
type call struct {
	op     outbound.Op
	method string
	path   string // below the base URL, escaped
	body   any    // nil: no body
	key    string // Idempotency-Key; "" for reads
	// once sends a write that takes no Idempotency-Key one time only: a
	// retry after a lost answer could make it twice (RegisterWebhook).
	once bool
}

// do sends an ePayment call with the shared token. On a 401 it drops the
// token, fetches a new one once and retries the call once: the same call to
// the recorder (outbound.RepeatableCall), whose next try is the repeat.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	var body []byte
	if cl.body != nil {
		var err error
		if body, err = json.Marshal(cl.body); err != nil {
			return err
		}
	}
	policy := c.retry
	if cl.once {
		policy.Attempts = 1
	}
	callCtx := outbound.RepeatableCall(ctx)
	for refreshed := false; ; refreshed = true {
		tok, err := c.tokens.get(ctx) // a call of its own
		if err != nil {
			return err
		}
		res, err := c.withRetry(callCtx, policy, cl.op, func(ctx context.Context) (*http.Request, error) {
			var rd io.Reader
			if body != nil {
				rd = bytes.NewReader(body)
			}
			req, err := http.NewRequestWithContext(outbound.WithOp(ctx, cl.op), cl.method, c.baseURL+cl.path, rd)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tok.value.Reveal())
			c.setCommon(req.Header)
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("Accept", "application/json, application/problem+json")
			if cl.key != "" {
				req.Header.Set("Idempotency-Key", cl.key)
			}
			return req, nil
		})
		if err != nil {
			return err
		}
		if res.status == http.StatusUnauthorized && !refreshed {
			c.log.InfoContext(ctx, "vipps refused the access token; fetching a new one", "operation", cl.op.Name)
			c.tokens.drop(tok)
			continue
		}
		if res.status < 200 || res.status > 299 {
			return c.fail(ctx, cl.op, res)
		}
		// 2xx: decode whatever the content type says (the OpenAPI declares
		// application/problem+json even for capture's 200).
		if out == nil || len(bytes.TrimSpace(res.body)) == 0 {
			return nil
		}
		if err := json.Unmarshal(res.body, out); err != nil {
			return &Error{Op: cl.op.Name, Status: res.status, Kind: KindUnavailable, err: fmt.Errorf("decoding the answer: %w", err)}
		}
		return nil
	}
}
