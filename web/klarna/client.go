package klarna

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"refshop/web/outbound"
	"refshop/web/secret"
)

// Config is what a Client needs.
type Config struct {
	BaseURL  string // https://api.playground.klarna.com or the sandbox's /klarna/api
	Username string // KLARNA_USERNAME
	Password secret.Secret
	HTTP     *http.Client // the shop's outbound client
	Log      *slog.Logger
	// MaxAttempts bounds tries per call (network errors and 5xx are retried);
	// 0 means 3.
	MaxAttempts int
	// Backoff is the wait before the second try, doubling after, plus up to
	// half of each wait in jitter; 0 means 200ms.
	Backoff time.Duration
	// Sleep waits between tries (nil: outbound.Sleep); tests replace it so
	// they never sleep.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client calls Klarna Payments and the Customer Token API.
type Client struct {
	cfg   Config
	retry outbound.Policy
}

// New returns a client.
func New(cfg Config) *Client {
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.HTTP == nil {
		cfg.HTTP = http.DefaultClient
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 200 * time.Millisecond
	}
	return &Client{cfg: cfg, retry: outbound.Policy{Attempts: cfg.MaxAttempts, Backoff: cfg.Backoff, Jitter: 0.5, Sleep: cfg.Sleep}}
}

// The idempotency header has two names in Klarna's documents: the
// account-linking guide sends Idempotency-Key on create session; the API
// reference declares Klarna-Idempotency-Key (customer-token order) and says
// it applies to all POST and PATCH calls. Each call sends the name its
// document shows; calls no document shows (update session, token status) use
// the API reference's name. The sandbox honours both.
const (
	headerIdempotencyKey       = "Idempotency-Key"
	headerKlarnaIdempotencyKey = "Klarna-Idempotency-Key"
)

// CreateSession creates a payment session. idemKey is derived from the
// shop's payment attempt (IdempotencyKey(attempt, "create_session")).
func (c *Client) CreateSession(ctx context.Context, req SessionRequest, idemKey string) (Session, error) {
	var out Session
	err := c.do(ctx, call{
		name: "create_session", method: http.MethodPost, path: "/payments/v1/sessions", template: "/payments/v1/sessions",
		header: headerIdempotencyKey, key: idemKey, body: req, out: &out, ok: []int{http.StatusOK},
	})
	return out, err
}

// ReadSession reads a session.
func (c *Client) ReadSession(ctx context.Context, sessionID string) (SessionState, error) {
	var out SessionState
	err := c.do(ctx, call{
		name: "read_session", method: http.MethodGet, template: "/payments/v1/sessions/{session_id}",
		path: "/payments/v1/sessions/" + url.PathEscape(sessionID), out: &out, ok: []int{http.StatusOK},
	})
	return out, err
}

// UpdateSession replaces the session's order data (the cart changed, or the
// customer must approve again). Klarna answers 204.
func (c *Client) UpdateSession(ctx context.Context, sessionID string, req SessionRequest, idemKey string) error {
	return c.do(ctx, call{
		name: "update_session", method: http.MethodPost, template: "/payments/v1/sessions/{session_id}",
		path:   "/payments/v1/sessions/" + url.PathEscape(sessionID),
		header: headerKlarnaIdempotencyKey, key: idemKey, body: req, ok: []int{http.StatusNoContent, http.StatusOK},
	})
}

// CreateOrder places the order for an authorization the customer gave in the
// widget. A 409 or 404 answer means the customer must approve again
// (NeedsReapproval).
func (c *Client) CreateOrder(ctx context.Context, authorizationToken string, req OrderRequest, idemKey string) (Order, error) {
	var w wireOrder
	err := c.do(ctx, call{
		name: "create_order", method: http.MethodPost, template: "/payments/v1/authorizations/{authorization_token}/order",
		path:   "/payments/v1/authorizations/" + url.PathEscape(authorizationToken) + "/order",
		header: headerKlarnaIdempotencyKey, key: idemKey, body: req, out: &w, ok: []int{http.StatusOK},
	})
	return w.order(), err
}

// CancelAuthorization releases an authorization that will not become an
// order. Klarna answers 204.
func (c *Client) CancelAuthorization(ctx context.Context, authorizationToken string) error {
	return c.do(ctx, call{
		name: "cancel_authorization", method: http.MethodDelete, template: "/payments/v1/authorizations/{authorization_token}",
		path: "/payments/v1/authorizations/" + url.PathEscape(authorizationToken), ok: []int{http.StatusNoContent},
	})
}

// The Customer Token API calls below take a token_id: the recurring token
// Klarna mints with POST /payments/v1/authorizations/{authorizationToken}/customer-token
// after a session with intent tokenize or buy_and_tokenize. They are not for
// the account-linking customer_token (krn:partner:...:identity:customer-token:...),
// which Klarna documents only inside a session's customer object: Klarna
// documents no endpoint that charges, reads or cancels that token server to
// server. The shop's "Buy again" is therefore customer present (a session
// carrying the linked token, the widget ready to buy), and the shop calls
// none of these today.

// ReadCustomerToken reads a Customer Token API token's status (GET
// /customer-token/v1/tokens/{token_id}).
func (c *Client) ReadCustomerToken(ctx context.Context, token secret.Secret) (TokenInfo, error) {
	var out TokenInfo
	err := c.do(ctx, call{
		name: "customer_token_read", method: http.MethodGet, template: "/customer-token/v1/tokens/{customer_token}",
		path: "/customer-token/v1/tokens/" + url.PathEscape(token.Reveal()), out: &out, ok: []int{http.StatusOK},
	})
	return out, err
}

// CustomerTokenOrder places an order server to server with a token_id the
// customer agreed to (intent tokenize or buy_and_tokenize). Its documented
// refusals: TokenGone (the token cannot be charged), TokenOrderFallback (the
// customer, if present, pays in the widget instead), TokenOrderRetryable.
func (c *Client) CustomerTokenOrder(ctx context.Context, token secret.Secret, req TokenOrderRequest, idemKey string) (Order, error) {
	var w wireOrder
	err := c.do(ctx, call{
		name: "customer_token_order", method: http.MethodPost, template: "/customer-token/v1/tokens/{customer_token}/order",
		path:   "/customer-token/v1/tokens/" + url.PathEscape(token.Reveal()) + "/order",
		header: headerKlarnaIdempotencyKey, key: idemKey, body: req, out: &w, ok: []int{http.StatusOK},
	})
	return w.order(), err
}

// CancelCustomerToken cancels a token_id at Klarna (PATCH status CANCELLED;
// Klarna answers 202).
func (c *Client) CancelCustomerToken(ctx context.Context, token secret.Secret, idemKey string) error {
	return c.do(ctx, call{
		name: "customer_token_status", method: http.MethodPatch, template: "/customer-token/v1/tokens/{customer_token}/status",
		path:   "/customer-token/v1/tokens/" + url.PathEscape(token.Reveal()) + "/status",
		header: headerKlarnaIdempotencyKey, key: idemKey, body: map[string]string{"status": "CANCELLED"},
		ok: []int{http.StatusAccepted, http.StatusOK, http.StatusNoContent},
	})
}

// call is one API operation.
type call struct {
	name     string // operation name, as the sandbox counts it without "klarna."
	method   string
	path     string // the real path (may hold tokens: never logged)
	template string // the path template (logged)
	header   string // idempotency header name; "" for none
	key      string
	body     any
	out      any
	ok       []int
	// respHeader, when set, receives the headers of a success (Order
	// Management's Capture-Id, Refund-Id and Location).
	respHeader *http.Header
}

func (c *Client) do(ctx context.Context, cl call) error {
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return fmt.Errorf("klarna %s: encode request: %w", cl.name, err)
		}
	}
	if cl.header != "" && cl.key == "" {
		// Every POST and PATCH carries a key derived from the payment attempt:
		// a missing one is a programming error, not something to paper over.
		return fmt.Errorf("klarna %s: missing idempotency key", cl.name)
	}
	ctx = outbound.WithOp(ctx, outbound.Op{Provider: "klarna", Name: cl.name, Path: cl.template})
	// A try that got no answer may have done the work the next one is
	// refused.
	lost := false
	last := outbound.Retry(ctx, c.retry, func(callCtx context.Context, attempt int) (bool, error) {
		retry, err := c.try(callCtx, cl, payload)
		lost = lost || Unanswered(err)
		if err != nil && retry && attempt < c.retry.Attempts && ctx.Err() == nil {
			c.cfg.Log.LogAttrs(ctx, slog.LevelWarn, "klarna call failed, retrying",
				slog.String("operation", cl.name), slog.Int("attempt", attempt), slog.String("error", err.Error()))
		}
		return retry, err
	})
	if ie, ok := last.(*outbound.Interrupted); ok {
		return noAnswer(cl.name, ie.Err)
	}
	if last == nil {
		return nil
	}
	var e *Error
	if errors.As(last, &e) && e.Answered {
		e.Lost = lost
		c.cfg.Log.LogAttrs(ctx, slog.LevelWarn, "klarna error",
			slog.String("operation", cl.name), slog.Int("status", e.Status), slog.String("error_code", e.Code),
			slog.String("correlation_id", e.CorrelationID))
	}
	return last
}

// try makes one request; retry says whether another try may succeed.
func (c *Client) try(ctx context.Context, cl call, payload []byte) (retry bool, err error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, c.cfg.BaseURL+cl.path, body)
	if err != nil {
		return false, fmt.Errorf("klarna %s: build request: %w", cl.name, err)
	}
	req.SetBasicAuth(c.cfg.Username, c.cfg.Password.Reveal())
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "refshop")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cl.header != "" {
		req.Header.Set(cl.header, cl.key)
	}
	resp, err := c.cfg.HTTP.Do(req)
	if err != nil {
		return true, noAnswer(cl.name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return true, noAnswer(cl.name, err)
	}
	for _, s := range cl.ok {
		if resp.StatusCode != s {
			continue
		}
		if cl.respHeader != nil {
			*cl.respHeader = resp.Header.Clone()
		}
		if cl.out != nil && len(bytes.TrimSpace(data)) > 0 {
			if err := json.Unmarshal(data, cl.out); err != nil {
				return false, &Error{Op: cl.name, Answered: true, Status: resp.StatusCode,
					CorrelationID: resp.Header.Get("Klarna-Correlation-Id"), err: fmt.Errorf("decode answer: %w", err)}
			}
		}
		return false, nil
	}
	return resp.StatusCode >= 500, decodeError(cl.name, resp, data)
}
