package outbound

// Recording: every exchange the outbound client makes, redacted, handed to
// a sink (the shop stores them with their order or account, for the order
// page's "How this payment happened"). One place for every provider client:
// the Recording RoundTripper that NewClient puts in front when it is given a
// Recorder.
//
// The caller's cost is a copy of the headers and bodies and a channel send:
// redaction and storage happen on the Recorder's one writer goroutine, so a
// slow database never holds a payment up, and a full buffer or a storage
// error drops the record (logged at WARN), never the call.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"refshop/web/redact"
)

// Exchange is one recorded request and its answer, redacted (web/redact).
type Exchange struct {
	StartedAt time.Time // on the Recorder's clock
	// ProviderAt is the provider's clock at the start (SetProviderClock);
	// zero when the recorder has none.
	ProviderAt time.Time
	Duration   time.Duration // until the answer's body was read (or closed), or the error
	// OrderID and UserID are the order and the account the call was made
	// for (WithOrder, WithUser); 0: none.
	OrderID, UserID int64
	RequestID       string // the shop request that caused it (WithRequestID)
	Provider        string // Op: "vipps", "klarna", "altpay"
	Operation       string
	PathTemplate    string
	Method          string
	URL             string // redacted
	Status          int    // 0: no answer
	Error           string // "timeout", "canceled", "network" (errorKind); "" when answered and read
	// Try counts the requests one call has sent, from 1 (Retry, NewCall): a
	// retry after a 5xx or no answer, or a repeat after a refused token.
	// RetryReason is the previous request's outcome: its status ("503") or
	// error kind ("timeout"); "" for the first.
	Try            int
	RetryReason    string
	IdempotencyKey string // Idempotency-Key or Klarna-Idempotency-Key, as sent
	ReqHeader      http.Header
	ReqBody        string
	RespHeader     http.Header // nil when there was no answer
	RespBody       string
	// Inbound: the provider called the shop (a webhook delivery, a
	// callback; Receive): the request is the provider's, the answer the
	// shop's, and URL the shop's own. Event is the event such a call
	// delivered ("epayments.payment.authorized.v1"); "" for none.
	Inbound bool
	Event   string
}

// Sink stores an exchange. An error is logged and the exchange dropped.
type Sink func(ctx context.Context, x Exchange) error

const (
	// captureLimit is the most of a body the recorder copies (128 KiB). A
	// body up to it is redacted whole, then cut to redact.MaxBody; a longer
	// one is not recorded at all, only its size (notRecorded): a prefix cut
	// at the limit could end inside a secret that redaction then misses.
	// It also bounds the queue: recordBuffer records hold at most
	// 2 × 1024 × 128 KiB = 256 MiB while the database stalls.
	captureLimit = 2 * redact.MaxBody
	// recordBuffer is how many exchanges may wait for the writer; past it
	// they are dropped rather than hold a call up.
	recordBuffer = 1024
	// sinkTimeout bounds one store.
	sinkTimeout = 10 * time.Second
)

// Recorder hands exchanges to its sink on one goroutine. Make one per
// process with NewRecorder, and Close it before the sink's database.
type Recorder struct {
	sink        Sink
	log         *slog.Logger
	now         func() time.Time
	providerNow func() time.Time // nil: none (SetProviderClock)

	mu      sync.RWMutex // closed and sends on ch
	closed  bool
	ch      chan recorded
	done    chan struct{}
	dropped atomic.Int64
}

// recorded is an exchange as captured, not yet redacted; flush, when set,
// is closed once everything before it was stored.
type recorded struct {
	x                 Exchange
	reqBody, respBody captured
	flush             chan struct{}
}

// captured is a body as the recorder copied it: all of it up to
// captureLimit, else nothing but its size.
type captured struct {
	b    []byte // nil when size > captureLimit
	size int64  // bytes seen
	// short: the reader stopped before the body's end (a response body
	// closed unread), so size is a lower bound.
	short bool
}

func (c captured) over() bool { return c.size > captureLimit }

// notRecorded is what an over-limit body is stored as: "[body not
// recorded: 1.2 MiB (1258291 bytes), over the 128 KiB recording limit]".
func (c captured) notRecorded() string {
	least := ""
	if c.short {
		least = "at least "
	}
	return fmt.Sprintf("[body not recorded: %s%s (%d bytes), over the %s recording limit]", least, sizeWords(c.size), c.size,
		sizeWords(captureLimit))
}

// sizeWords is n bytes in KiB or MiB, to a tenth: "1.2 MiB", "200 KiB".
func sizeWords(n int64) string {
	v, unit := float64(n)/(1<<10), "KiB"
	if n >= 1<<20 {
		v, unit = float64(n)/(1<<20), "MiB"
	}
	return strings.TrimSuffix(strconv.FormatFloat(v, 'f', 1, 64), ".0") + " " + unit
}

// NewRecorder starts a recorder storing through sink. now stamps StartedAt
// (the shop's clock; nil: time.Now); durations are measured on the
// monotonic clock.
func NewRecorder(sink Sink, log *slog.Logger, now func() time.Time) *Recorder {
	if now == nil {
		now = time.Now
	}
	r := &Recorder{sink: sink, log: log, now: now, ch: make(chan recorded, recordBuffer), done: make(chan struct{})}
	go r.write()
	return r
}

func (r *Recorder) write() {
	defer close(r.done)
	for rec := range r.ch {
		if rec.flush != nil {
			close(rec.flush)
			continue
		}
		r.store(rec)
	}
}

// store redacts and stores one exchange. A panic in either drops the record
// with a WARN line: recording must never take the shop down.
func (r *Recorder) store(rec recorded) {
	defer func() {
		if p := recover(); p != nil {
			// A runtime error's text names no data; any other panic value
			// might, and is left out.
			what := "a panic"
			if re, ok := p.(runtime.Error); ok {
				what = re.Error()
			}
			r.log.Warn("recording a provider exchange panicked; it is dropped", "provider", rec.x.Provider,
				"operation", rec.x.Operation, "panic", what)
		}
	}()
	x := rec.x
	red := redact.Redact(x.Provider, redact.Exchange{Method: x.Method, URL: x.URL, PathTemplate: x.PathTemplate,
		ReqHeader: x.ReqHeader, ReqBody: rec.reqBody.b, RespHeader: x.RespHeader, RespBody: rec.respBody.b, Inbound: x.Inbound})
	x.URL, x.ReqHeader, x.RespHeader = red.URL, red.ReqHeader, red.RespHeader
	x.ReqBody, x.RespBody = string(red.ReqBody), string(red.RespBody)
	if rec.reqBody.over() {
		x.ReqBody = rec.reqBody.notRecorded()
	}
	if rec.respBody.over() {
		x.RespBody = rec.respBody.notRecorded()
	}
	ctx, cancel := context.WithTimeout(context.Background(), sinkTimeout)
	err := r.sink(ctx, x)
	cancel()
	if err != nil {
		r.log.Warn("recording a provider exchange failed; it is dropped", "provider", x.Provider,
			"operation", x.Operation, "request_id", x.RequestID, "error", err)
	}
}

// enqueue hands rec to the writer without waiting: a full buffer or a
// closed recorder drops it.
func (r *Recorder) enqueue(rec recorded) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return
	}
	select {
	case r.ch <- rec:
	default:
		n := r.dropped.Add(1)
		r.log.Warn("provider exchange not recorded: the recorder is behind", "provider", rec.x.Provider,
			"operation", rec.x.Operation, "dropped_so_far", n)
	}
}

// Flush waits until every exchange recorded before it is stored (or
// dropped), or ctx ends. Tests call it before reading what was stored.
func (r *Recorder) Flush(ctx context.Context) error {
	done := make(chan struct{})
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		return nil
	}
	select {
	case r.ch <- recorded{flush: done}:
		r.mu.RUnlock()
	case <-ctx.Done():
		r.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Now is the time on the clock the recorder stamps exchanges with
// (Exchange.StartedAt).
func (r *Recorder) Now() time.Time { return r.now() }

// SetProviderClock gives the recorder the providers' clock (the sandbox's,
// which may be moved ahead of the shop's), stamped on each exchange as
// ProviderAt: token lifetimes run on it. Call it before the first request.
func (r *Recorder) SetProviderClock(now func() time.Time) { r.providerNow = now }

// Dropped is how many exchanges were not recorded because the writer was
// behind.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Close stores what is waiting and stops the writer; later exchanges are
// not recorded.
func (r *Recorder) Close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.ch)
	}
	r.mu.Unlock()
	<-r.done
}

// Recording is a RoundTripper that records each request it sends, once, in
// Rec (nil: it only passes requests on).
type Recording struct {
	Next http.RoundTripper
	Rec  *Recorder
}

func (t *Recording) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Rec == nil {
		return t.Next.RoundTrip(req)
	}
	ctx := req.Context()
	began := time.Now()
	x := Exchange{StartedAt: t.Rec.now(), RequestID: RequestIDFrom(ctx), Method: req.Method, URL: req.URL.String(),
		ReqHeader: req.Header.Clone(), Try: 1}
	x.OrderID, x.UserID = subjectFrom(ctx)
	if t.Rec.providerNow != nil {
		x.ProviderAt = t.Rec.providerNow()
	}
	if op, ok := OpFrom(ctx); ok {
		x.Provider, x.Operation, x.PathTemplate = op.Provider, op.Name, op.Path
	} else {
		x.Provider, x.Operation = req.URL.Host, "unlabelled"
	}
	x.IdempotencyKey = req.Header.Get("Idempotency-Key")
	if x.IdempotencyKey == "" {
		x.IdempotencyKey = req.Header.Get("Klarna-Idempotency-Key")
	}
	call := callFrom(ctx)
	if call != nil {
		x.Try, x.RetryReason = call.begin()
	}
	rec := recorded{x: x}
	req, reqBody := requestBody(req)

	resp, err := t.Next.RoundTrip(req)
	if err != nil {
		rec.x.Error = errorKind(err)
		rec.x.Duration = time.Since(began)
		rec.reqBody = reqBody()
		call.end(rec.x.Error)
		t.Rec.enqueue(rec)
		return resp, err
	}
	rec.x.Status = resp.StatusCode
	rec.x.RespHeader = resp.Header.Clone()
	call.end(strconv.Itoa(resp.StatusCode))
	// The record is complete once the caller has read the body (or closed
	// it): the body is copied as it is read, never read ahead of the caller.
	resp.Body = &teeBody{rc: resp.Body, done: func(body captured, readErr error) {
		rec.reqBody, rec.respBody = reqBody(), body
		rec.x.Duration = time.Since(began)
		if readErr != nil {
			rec.x.Error = errorKind(readErr)
		}
		t.Rec.enqueue(rec)
	}}
	return resp, nil
}

// requestBody returns the request to send and a func that copies its body
// for the record: from GetBody when the request has one (the clients'
// bodies all do), else as the transport sends it, through a tee on a
// shallow copy of the request.
func requestBody(req *http.Request) (*http.Request, func() captured) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, func() captured { return captured{} }
	}
	if req.GetBody != nil {
		if rc, err := req.GetBody(); err == nil {
			var c capture
			n, _ := io.Copy(&c, rc)
			rc.Close()
			body := c.captured()
			body.size = n
			return req, func() captured { return body }
		}
	}
	sent := &capture{}
	r2 := req.Clone(req.Context())
	r2.Body = struct {
		io.Reader
		io.Closer
	}{io.TeeReader(req.Body, sent), req.Body}
	return r2, sent.captured
}

// capture keeps what is written to it while it is within captureLimit and
// counts the rest without keeping it. The transport may still be writing a
// request body when the answer arrives, hence the lock.
type capture struct {
	mu   sync.Mutex
	buf  []byte
	size int64
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.size += int64(len(p))
	if c.size <= captureLimit {
		c.buf = append(c.buf, p...)
	} else {
		c.buf = nil // over: nothing of it is recorded
	}
	c.mu.Unlock()
	return len(p), nil
}

func (c *capture) captured() captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return captured{b: bytes.Clone(c.buf), size: c.size}
}

// teeBody copies what the caller reads of a response body (capture) and
// calls done once: at the end of the body, at a read error, or at Close,
// whichever comes first.
type teeBody struct {
	rc   io.ReadCloser
	c    capture
	once sync.Once
	done func(body captured, readErr error)
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.c.Write(p[:n])
	if err == io.EOF {
		b.finish(nil, false)
	} else if err != nil {
		b.finish(err, true)
	}
	return n, err
}

func (b *teeBody) Close() error {
	err := b.rc.Close()
	b.finish(nil, true)
	return err
}

func (b *teeBody) finish(err error, short bool) {
	b.once.Do(func() {
		// Taken, not copied: nothing is read after the end.
		b.c.mu.Lock()
		body := captured{b: b.c.buf, size: b.c.size, short: short}
		b.c.buf = nil
		b.c.mu.Unlock()
		b.done(body, err)
	})
}

type subjectKey struct{}

type subject struct{ order, user int64 }

// WithOrder returns ctx naming the order (payment attempt) the provider calls
// made with it are for: their exchanges are stored under it.
func WithOrder(ctx context.Context, orderID int64) context.Context {
	s, _ := ctx.Value(subjectKey{}).(subject)
	s.order = orderID
	return context.WithValue(ctx, subjectKey{}, s)
}

// WithUser returns ctx naming the account the provider calls made with it
// are for (Sign in with Klarna's tokens, a linked Klarna account).
func WithUser(ctx context.Context, userID int64) context.Context {
	s, _ := ctx.Value(subjectKey{}).(subject)
	s.user = userID
	return context.WithValue(ctx, subjectKey{}, s)
}

func subjectFrom(ctx context.Context) (orderID, userID int64) {
	s, _ := ctx.Value(subjectKey{}).(subject)
	return s.order, s.user
}

// SubjectFrom returns the order and account ctx names (0: none).
func SubjectFrom(ctx context.Context) (orderID, userID int64) { return subjectFrom(ctx) }

type callKey struct{}

// call counts the requests of one provider call and keeps the last one's
// outcome, for the next one's RetryReason.
type call struct {
	mu   sync.Mutex
	n    int
	last string
}

// NewCall returns ctx marking the start of one provider call: the requests
// made with it are its tries (Exchange.Try). Retry does this; a retry loop
// of its own calls it once, before its first try. When ctx comes from
// RepeatableCall, the call goes on where the last sending of it stopped.
func NewCall(ctx context.Context) context.Context {
	c, _ := ctx.Value(repeatKey{}).(*call)
	if c == nil {
		c = &call{}
	} else {
		// Calls made within this one (a token fetch) are calls of their own.
		ctx = context.WithValue(ctx, repeatKey{}, (*call)(nil))
	}
	return context.WithValue(ctx, callKey{}, c)
}

type repeatKey struct{}

// RepeatableCall returns ctx for one provider call that its caller sends
// again, around its retry loop, after a refusal a new token cures: a 401,
// after which it drops the token, fetches another and repeats the call.
// Each sending made with the returned ctx (its Retry, or NewCall) continues
// the same call, so the repeat is recorded as the call's next try with the
// refusal ("401") as its reason, not as a new call's try 1. Fetch the token
// in between with ctx, not the returned one: the fetch is a call of its
// own.
func RepeatableCall(ctx context.Context) context.Context {
	return context.WithValue(ctx, repeatKey{}, &call{})
}

func callFrom(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

func (c *call) begin() (try int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n, c.last
}

func (c *call) end(outcome string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.last = outcome
	c.mu.Unlock()
}
