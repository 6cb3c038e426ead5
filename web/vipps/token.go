package vipps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"refshop/web/clock"
	"refshop/web/outbound"
	"refshop/web/secret"
)

// flexInt reads a number that Vipps sends as a string ("expires_in": "3600")
// and, should it ever change its mind, as a JSON number (the /miami/v1/token
// README shows a number). Empty or null reads as 0.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*f = 0
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*f = 0
			return nil
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*f = flexInt(n)
		return nil
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("vipps: want a number or a numeric string, got %s", b)
	}
	*f = flexInt(x)
	return nil
}

// tokenResponse is POST /accesstoken/get's answer. All seven fields are
// documented as required and as strings.
type tokenResponse struct {
	TokenType    string  `json:"token_type"`
	ExpiresIn    flexInt `json:"expires_in"`
	ExtExpiresIn flexInt `json:"ext_expires_in"`
	ExpiresOn    flexInt `json:"expires_on"`
	NotBefore    flexInt `json:"not_before"`
	Resource     string  `json:"resource"`
	AccessToken  string  `json:"access_token"`
}

// accessToken is one fetched token and when the shop stops using it.
type accessToken struct {
	value    secret.Secret
	expires  time.Time // when Vipps stops accepting it
	useUntil time.Time // expires minus the margin
}

// parseToken reads a token response fetched at sentAt (the moment the request
// left, by the shop's clock). The expiry is expires_on, but never later than
// sentAt + expires_in: expires_on is on Vipps's clock, and if the two clocks
// disagree the shorter reading is the safe one.
func parseToken(body []byte, sentAt time.Time) (tokenResponse, time.Time, error) {
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return tr, time.Time{}, fmt.Errorf("vipps: access token response: %w", err)
	}
	if tr.AccessToken == "" {
		return tr, time.Time{}, errors.New("vipps: access token response has no access_token")
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "Bearer") {
		return tr, time.Time{}, fmt.Errorf("vipps: access token type %q, want Bearer", tr.TokenType)
	}
	var exp time.Time
	if tr.ExpiresOn > 0 {
		exp = time.Unix(int64(tr.ExpiresOn), 0)
	}
	if tr.ExpiresIn > 0 {
		if byIn := sentAt.Add(time.Duration(tr.ExpiresIn) * time.Second); exp.IsZero() || byIn.Before(exp) {
			exp = byIn
		}
	}
	if exp.IsZero() {
		return tr, time.Time{}, errors.New("vipps: access token response has neither expires_on nor expires_in")
	}
	return tr, exp, nil
}

// tokens is the process's one access-token cache: every caller shares the
// current token until shortly before it expires, and however many callers
// need a new one at the same moment, one request fetches it (singleflight).
// Vipps allows several valid tokens at once, so a token dropped after a 401
// may still be in flight elsewhere; that is fine.
type tokens struct {
	c      *Client
	clock  clock.Clock
	margin time.Duration

	mu    sync.Mutex
	cur   *accessToken
	group singleflight.Group
}

// get returns a usable token, fetching one when there is none or the current
// one is within its margin of expiry.
func (t *tokens) get(ctx context.Context) (*accessToken, error) {
	if tok := t.current(); tok != nil {
		return tok, nil
	}
	// The fetch is shared: it must not die with the first caller's context.
	// Each caller still stops waiting when its own context ends.
	ch := t.group.DoChan("token", func() (any, error) {
		if tok := t.current(); tok != nil {
			return tok, nil
		}
		tok, err := t.fetch(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		t.mu.Lock()
		t.cur = tok
		t.mu.Unlock()
		t.c.log.InfoContext(ctx, "vipps: access token fetched; every call of this process shares it",
			"access_token", tok.value.Tag(), "expires", tok.expires, "renew_after", tok.useUntil)
		return tok, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*accessToken), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (t *tokens) current() *accessToken {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur != nil && t.clock.Now().Before(t.cur.useUntil) {
		return t.cur
	}
	return nil
}

// drop forgets tok after Vipps refused it, unless another caller has already
// replaced it with a newer one.
func (t *tokens) drop(tok *accessToken) {
	t.mu.Lock()
	dropped := t.cur == tok
	if dropped {
		t.cur = nil
	}
	t.mu.Unlock()
	if dropped {
		t.c.log.Info("vipps: access token dropped after Vipps refused it (401); the next call fetches a new one",
			"access_token", tok.value.Tag())
	}
}

// fetch calls POST /accesstoken/get: no body, the credentials in headers.
func (t *tokens) fetch(ctx context.Context) (*accessToken, error) {
	c := t.c
	op := outbound.Op{Provider: "vipps", Name: "accesstoken", Path: "/accesstoken/get"}
	sentAt := t.clock.Now()
	res, err := c.withRetry(ctx, c.retry, op, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(outbound.WithOp(ctx, op), http.MethodPost, c.baseURL+"/accesstoken/get", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("client_id", c.clientID)
		req.Header.Set("client_secret", c.clientSecret.Reveal())
		c.setCommon(req.Header)
		return req, nil
	})
	if err != nil {
		return nil, err
	}
	if res.status != http.StatusOK {
		return nil, c.fail(ctx, op, res)
	}
	tr, exp, err := parseToken(res.body, sentAt)
	if err != nil {
		return nil, &Error{Op: op.Name, Kind: KindUnavailable, err: err}
	}
	margin := t.margin
	if life := exp.Sub(sentAt); margin > life/4 {
		margin = life / 4 // short-lived tokens (tests) still get most of their life used
	}
	return &accessToken{value: secret.New(tr.AccessToken), expires: exp, useUntil: exp.Add(-margin)}, nil
}
