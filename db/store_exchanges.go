package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Exchange is one request between the shop and a provider and its answer,
// as the outbound recorder captured it: redacted (web/redact) before it got
// here. Origin says who sent the request.
type Exchange struct {
	ID        int64
	StartedAt time.Time
	// ProviderAt is the provider's clock when it started (the sandbox's,
	// which may run ahead of the shop's); zero when unknown.
	ProviderAt time.Time
	Duration   time.Duration
	// OrderID is the order (payment attempt) it was made for, UserID the
	// account (for an order's exchange, the order's account); 0: none.
	OrderID, UserID int64
	RequestID       string // the shop request that caused it
	Provider        string // "vipps", "klarna", "altpay"
	Operation       string // "create_payment", as the sandbox names it
	PathTemplate    string
	Method          string
	URL             string
	Status          int    // 0: no answer (Error says why)
	Error           string // "timeout", "network", "canceled"; ""
	Try             int    // from 1: the requests its call sent so far
	RetryReason     string // the previous try's outcome ("503", "timeout"); "" on the first
	IdempotencyKey  string
	ReqHeaders      http.Header
	ReqBody         string
	RespHeaders     http.Header // nil when no answer came
	RespBody        string
	Origin          Origin // "" is OriginShop
	// Event is the event a provider's call delivered
	// ("epayments.payment.authorized.v1"); "" for none.
	Event string
}

// Origin is who made an exchange's request.
type Origin string

const (
	// OriginShop: the shop called the provider.
	OriginShop Origin = "shop"
	// OriginProvider: the provider called the shop (a webhook delivery, a
	// callback); the answer is the shop's.
	OriginProvider Origin = "provider"
	// OriginBrowser: the browser called the provider, as the sandbox
	// recorded it (web/browsercalls.go): never stored here, only shown
	// beside the stored ones.
	OriginBrowser Origin = "browser"
)

// Is reports whether x's request came from o (an unset origin is the
// shop's).
func (x Exchange) Is(o Origin) bool {
	if x.Origin == "" {
		return o == OriginShop
	}
	return x.Origin == o
}

// exchangeStamp is started_at's format: fixed width, so the text sorts in
// time order (stamp's RFC 3339 drops trailing zeros, and "09:00:00Z" would
// sort after "09:00:00.5Z").
const exchangeStamp = "2006-01-02T15:04:05.000000000Z07:00"

// sortable is t as fixed-width text (exchangeStamp), for a TEXT column that
// SQL compares with < and <=: leases, throttle.
func sortable(t time.Time) string { return t.UTC().Format(exchangeStamp) }

// RecordExchange stores x. Its account is the order's when x names an order
// and no account.
func (s *Store) RecordExchange(ctx context.Context, x Exchange) (err error) {
	defer wrap(&err, "record exchange")
	if x.Provider == "" || x.Method == "" {
		return errors.New("an exchange needs its provider and method")
	}
	origin := x.Origin
	switch origin {
	case "":
		origin = OriginShop
	case OriginShop, OriginProvider:
	default:
		return fmt.Errorf("an exchange from %q is not stored", origin)
	}
	reqH, err := json.Marshal(headersOrEmpty(x.ReqHeaders))
	if err != nil {
		return err
	}
	respH, err := json.Marshal(headersOrEmpty(x.RespHeaders))
	if err != nil {
		return err
	}
	_, err = s.db.Write.ExecContext(ctx, `
		INSERT INTO exchanges(started_at, duration_ms, order_id, user_id, request_id, provider, operation, path_template,
			method, url, status, error, try, retry_reason, idempotency_key, req_headers, req_body, resp_headers, resp_body, provider_at,
			origin, event)
		VALUES(?, ?, ?, COALESCE(?, (SELECT user_id FROM orders WHERE id = ?)), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		x.StartedAt.UTC().Format(exchangeStamp), float64(x.Duration)/float64(time.Millisecond), nullInt(x.OrderID),
		nullInt(x.UserID), nullInt(x.OrderID), x.RequestID, x.Provider, x.Operation, x.PathTemplate, x.Method, x.URL,
		x.Status, x.Error, max(x.Try, 1), x.RetryReason, x.IdempotencyKey, string(reqH), x.ReqBody, string(respH), x.RespBody,
		providerStamp(x.ProviderAt), string(origin), x.Event)
	return err
}

// providerStamp is provider_at's text: empty for an unknown time.
func providerStamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(exchangeStamp)
}

func headersOrEmpty(h http.Header) http.Header {
	if h == nil {
		return http.Header{}
	}
	return h
}

const exchangeColumns = `id, started_at, duration_ms, COALESCE(order_id, 0), COALESCE(user_id, 0), request_id, provider,
	operation, path_template, method, url, status, error, try, retry_reason, idempotency_key, req_headers, req_body,
	resp_headers, resp_body, provider_at, origin, event`

// scanExchange reads exchangeColumns, and into more what follows them.
func scanExchange(row scanner, more ...any) (Exchange, error) {
	var x Exchange
	var started, reqH, respH, providerAt string
	var ms float64
	err := row.Scan(append([]any{&x.ID, &started, &ms, &x.OrderID, &x.UserID, &x.RequestID, &x.Provider, &x.Operation,
		&x.PathTemplate, &x.Method, &x.URL, &x.Status, &x.Error, &x.Try, &x.RetryReason, &x.IdempotencyKey, &reqH, &x.ReqBody,
		&respH, &x.RespBody, &providerAt, &x.Origin, &x.Event}, more...)...)
	if err != nil {
		return x, err
	}
	x.StartedAt = parseTime(started)
	if providerAt != "" {
		x.ProviderAt = parseTime(providerAt)
	}
	x.Duration = time.Duration(ms * float64(time.Millisecond))
	if err := json.Unmarshal([]byte(reqH), &x.ReqHeaders); err != nil {
		return x, err
	}
	if err := json.Unmarshal([]byte(respH), &x.RespHeaders); err != nil {
		return x, err
	}
	if x.Status == 0 && len(x.RespHeaders) == 0 {
		x.RespHeaders = nil
	}
	return x, nil
}

// ExchangesByOrder lists an order's latest limit exchanges in the order
// they started, and how many earlier ones it leaves out.
func (s *Store) ExchangesByOrder(ctx context.Context, orderID int64, limit int) (_ []Exchange, omitted int, err error) {
	defer wrap(&err, "exchanges by order")
	var total int
	// The count is taken over all the order's rows before LIMIT, in the same
	// query: it and the list agree however many are stored meanwhile.
	xs, err := list(ctx, s, func(row scanner) (Exchange, error) {
		return scanExchange(row, &total)
	}, `SELECT * FROM (SELECT `+exchangeColumns+`, count(*) OVER () FROM exchanges WHERE order_id = ?
		ORDER BY started_at DESC, id DESC LIMIT ?) latest ORDER BY 2, 1`, orderID, limit)
	if err != nil {
		return nil, 0, err
	}
	return xs, max(total-len(xs), 0), nil
}

// ExchangesByUser lists an account's latest limit exchanges, its orders'
// included, in the order they started.
func (s *Store) ExchangesByUser(ctx context.Context, userID int64, limit int) (_ []Exchange, err error) {
	defer wrap(&err, "exchanges by user")
	return list(ctx, s, func(row scanner) (Exchange, error) { return scanExchange(row) }, `SELECT * FROM (SELECT `+exchangeColumns+` FROM exchanges WHERE user_id = ?
		ORDER BY started_at DESC, id DESC LIMIT ?) latest ORDER BY 2, 1`, userID, limit)
}

// AttributeExchanges files under the account userID the exchanges that the
// shop request requestID started at since or later (on the recorder's
// clock) for no order and no account, and returns how many: Sign in with
// Klarna's code exchange runs before the callback knows whose sign-in it
// is. Exchanges stored under an order or an account keep theirs. since
// bounds the search to the recent ones (request_id has no index).
func (s *Store) AttributeExchanges(ctx context.Context, requestID string, since time.Time, userID int64) (n int64, err error) {
	defer wrap(&err, "attribute exchanges")
	if requestID == "" || userID <= 0 {
		return 0, errors.New("attributing exchanges needs a request id and an account")
	}
	res, err := s.db.Write.ExecContext(ctx, `UPDATE exchanges SET user_id = ?
		WHERE started_at >= ? AND request_id = ? AND user_id IS NULL AND order_id IS NULL`,
		userID, since.UTC().Format(exchangeStamp), requestID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// pruneBatch bounds one delete, so a prune never holds the one write
// connection long.
const pruneBatch = 1000

// PruneExchanges deletes the exchanges that started before before and
// returns how many.
func (s *Store) PruneExchanges(ctx context.Context, before time.Time) (n int64, err error) {
	defer wrap(&err, "prune exchanges")
	cutoff := before.UTC().Format(exchangeStamp)
	for {
		res, err := s.db.Write.ExecContext(ctx, `DELETE FROM exchanges WHERE id IN
			(SELECT id FROM exchanges WHERE started_at < ? LIMIT ?)`, cutoff, pruneBatch)
		if err != nil {
			return n, err
		}
		got, err := res.RowsAffected()
		n += got
		if err != nil || got < pruneBatch {
			return n, err
		}
	}
}
