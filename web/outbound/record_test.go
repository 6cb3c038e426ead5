package outbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// sinkRecorder keeps what a Recorder stores.
type sinkRecorder struct {
	mu  sync.Mutex
	got []Exchange
	err error
}

func (s *sinkRecorder) store(_ context.Context, x Exchange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, x)
	return s.err
}

func (s *sinkRecorder) all(t *testing.T, r *Recorder) []Exchange {
	t.Helper()
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Exchange(nil), s.got...)
}

var fixed = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func newRecorded(t *testing.T) (*http.Client, *Recorder, *sinkRecorder, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s := &sinkRecorder{}
	rec := NewRecorder(s.store, log, func() time.Time { return fixed })
	t.Cleanup(rec.Close)
	return NewClient(log, 0, rec), rec, s, &logs
}

const bearerToken = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"

func TestEachExchangeIsRecordedOnceRedactedWithItsSubject(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"echo":`+string(body)+`,"access_token":"opaque-token-value-0123456789"}`)
	}))
	defer srv.Close()
	c, rec, sink, _ := newRecorded(t)

	ctx := WithRequestID(context.Background(), "req-1")
	ctx = WithUser(WithOrder(ctx, 42), 7)
	ctx = WithOp(ctx, Op{Provider: "vipps", Name: "create_payment", Path: "/epayment/v1/payments"})
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/epayment/v1/payments", strings.NewReader(`{"amount":1}`))
	req.Header.Set("Authorization", "Bearer "+bearerToken)
	req.Header.Set("Idempotency-Key", "refshop-42-create")
	req.Header.Set("Content-Type", "application/json")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	// The caller reads the whole answer, unredacted: recording only copies.
	if want := `{"echo":{"amount":1},"access_token":"opaque-token-value-0123456789"}`; string(got) != want {
		t.Fatalf("the caller read %s", got)
	}

	xs := sink.all(t, rec)
	if len(xs) != 1 {
		t.Fatalf("%d exchanges recorded, want 1", len(xs))
	}
	x := xs[0]
	if x.OrderID != 42 || x.UserID != 7 || x.RequestID != "req-1" || x.Provider != "vipps" || x.Operation != "create_payment" ||
		x.PathTemplate != "/epayment/v1/payments" || x.Method != "POST" || x.Status != 201 || x.Error != "" ||
		x.Try != 1 || x.RetryReason != "" || x.IdempotencyKey != "refshop-42-create" || !x.StartedAt.Equal(fixed) || x.Duration <= 0 {
		t.Errorf("recorded %+v", x)
	}
	if x.ReqBody != `{"amount":1}` || !strings.Contains(x.RespBody, `"echo":{"amount":1}`) {
		t.Errorf("bodies: %q %q", x.ReqBody, x.RespBody)
	}
	all := x.URL + x.ReqBody + x.RespBody + x.ReqHeader.Get("Authorization") + x.RespHeader.Get("Content-Type")
	if strings.Contains(all, "opaque-token-value") || strings.Contains(all, "c2lnbmF0dXJl") {
		t.Errorf("a secret was recorded: %s", all)
	}
	if !strings.HasPrefix(x.ReqHeader.Get("Authorization"), "Bearer [redacted ") {
		t.Errorf("Authorization %q", x.ReqHeader.Get("Authorization"))
	}
}

// Retry marks each try: the recorder stores which try a request was and
// what the one before it got.
func TestTriesAreNumberedWithTheReasonForEach(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	c, rec, sink, _ := newRecorded(t)
	p := Policy{Attempts: 3, Sleep: func(context.Context, time.Duration) error { return nil }}
	ctx := WithOp(context.Background(), Op{Provider: "altpay", Name: "get_invoice"})
	err := Retry(ctx, p, func(ctx context.Context, attempt int) (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
		res, err := c.Do(req)
		if err != nil {
			return true, err
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode >= 500 {
			return true, errors.New("5xx")
		}
		return false, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A call made after, outside the retried one, starts again at 1.
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	xs := sink.all(t, rec)
	var got []string
	for _, x := range xs {
		got = append(got, strings.TrimSpace(fmt.Sprintf("%d %s %d", x.Try, x.RetryReason, x.Status)))
	}
	if want := []string{"1  503", "2 503 503", "3 503 200", "1  200"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("tries %q, want %q", got, want)
	}
}

func TestTransportErrorsAreRecordedWithTheirKind(t *testing.T) {
	c, rec, sink, _ := newRecorded(t)
	req, _ := http.NewRequest("POST", "http://127.0.0.1:1/x?token=secret-query-token-value", strings.NewReader("a=b"))
	if _, err := c.Do(req); err == nil {
		t.Fatal("want a connection error")
	}
	xs := sink.all(t, rec)
	if len(xs) != 1 || xs[0].Error != "network" || xs[0].Status != 0 || xs[0].ReqBody != "a=b" || xs[0].Operation != "unlabelled" {
		t.Fatalf("recorded %+v", xs)
	}
	if strings.Contains(xs[0].URL, "secret-query") {
		t.Errorf("URL %q", xs[0].URL)
	}
}

// Recording never fails a call: a storage error is logged and dropped, and
// a body the caller closes unread is still recorded, once.
func TestRecordingNeverFailsTheCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 10000))
	}))
	defer srv.Close()
	c, rec, sink, logs := newRecorded(t)
	sink.err = errors.New("database is locked")
	res, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	io.ReadFull(res.Body, buf)
	res.Body.Close()
	res.Body.Close()
	xs := sink.all(t, rec)
	if len(xs) != 1 || !strings.HasPrefix(xs[0].RespBody, "xxxxxxxxxx") {
		t.Fatalf("recorded %d: %+v", len(xs), xs)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "database is locked") {
		t.Errorf("the storage error is not logged: %s", logs.String())
	}
	// After Close, calls go on unrecorded.
	rec.Close()
	res, err = c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if err := rec.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// A full buffer drops the record at once instead of holding the call up.
func TestABehindRecorderDropsInsteadOfWaiting(t *testing.T) {
	var logs bytes.Buffer
	block := make(chan struct{})
	r := &Recorder{sink: func(context.Context, Exchange) error { <-block; return nil },
		log: slog.New(slog.NewTextHandler(&logs, nil)), now: time.Now, ch: make(chan recorded, 1), done: make(chan struct{})}
	go r.write()
	defer r.Close()
	defer close(block)
	for range 5 {
		r.enqueue(recorded{x: Exchange{Provider: "vipps"}})
	}
	if r.dropped.Load() < 3 || !strings.Contains(logs.String(), "the recorder is behind") {
		t.Errorf("dropped %d; logs %s", r.dropped.Load(), logs.String())
	}
}

// A request body without GetBody is copied as the transport sends it.
func TestRequestBodiesWithoutGetBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	defer srv.Close()
	c, rec, sink, _ := newRecorded(t)
	req, _ := http.NewRequest("POST", srv.URL, io.NopCloser(strings.NewReader("client_secret=hunter2-hunter2&grant_type=x")))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	xs := sink.all(t, rec)
	if len(xs) != 1 || !strings.HasPrefix(xs[0].ReqBody, "client_secret=[redacted ") || !strings.HasSuffix(xs[0].ReqBody, "&grant_type=x") {
		t.Fatalf("recorded %+v", xs)
	}
}

// A panic while storing one exchange drops that record with a WARN line;
// the writer goes on with the next, and the shop stays up.
func TestAPanicWhileStoringDropsOnlyThatRecord(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var stored int
	var mu sync.Mutex
	first := true
	rec := NewRecorder(func(_ context.Context, x Exchange) error {
		mu.Lock()
		defer mu.Unlock()
		if first {
			first = false
			var m map[string]int
			m["boom"]++ // a runtime error: assignment to a nil map
		}
		stored++
		return nil
	}, log, func() time.Time { return fixed })
	t.Cleanup(rec.Close)
	c := NewClient(log, 0, rec)
	for range 2 {
		res, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if err := rec.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if stored != 1 || !strings.Contains(logs.String(), "panicked; it is dropped") || !strings.Contains(logs.String(), "nil map") {
		t.Errorf("stored %d, log:\n%s", stored, logs.String())
	}
}

// A body over the capture limit is not recorded at all, not even a prefix
// (a secret cut at the prefix's end could survive redaction): a marker says
// how big it was. Its size is counted, not kept. A body under the limit is
// redacted whole, then cut by redact with its own marker.
func TestABodyOverTheCaptureLimitIsNotRecorded(t *testing.T) {
	big := `{"items":"` + strings.Repeat("x", 1200<<10) + `","access_token":"opaque-token-value-0123456789"}`
	under := `{"items":"` + strings.Repeat("y", 100<<10) + `","access_token":"opaque-token-value-0123456789"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/big" {
			io.WriteString(w, big)
			return
		}
		io.WriteString(w, under)
	}))
	defer srv.Close()
	c, rec, sink, _ := newRecorded(t)
	for _, path := range []string{"/big", "/under"} {
		var body io.Reader = strings.NewReader(big)
		if path == "/under" {
			// No GetBody: copied as the transport sends it.
			body = io.NopCloser(strings.NewReader(under))
		}
		req, _ := http.NewRequest("POST", srv.URL+path, body)
		req.Header.Set("Content-Type", "application/json")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if path == "/big" && string(got) != big {
			t.Fatal("the caller did not read the whole answer")
		}
	}
	xs := sink.all(t, rec)
	if len(xs) != 2 {
		t.Fatalf("%d recorded", len(xs))
	}
	want := fmt.Sprintf("[body not recorded: 1.2 MiB (%d bytes), over the 128 KiB recording limit]", len(big))
	if xs[0].ReqBody != want || xs[0].RespBody != want {
		t.Errorf("over the limit:\nrequest %.120q\nanswer  %.120q\nwant    %q", xs[0].ReqBody, xs[0].RespBody, want)
	}
	// Under the limit: redacted whole (the token at the end is a mark), then
	// cut to redact.MaxBody with redact's marker.
	for _, b := range []string{xs[1].ReqBody, xs[1].RespBody} {
		if !strings.HasPrefix(b, `{"items":"yyy`) || !strings.Contains(b, "[cut: 65536 of ") || strings.Contains(b, "opaque-token") {
			t.Errorf("under the limit: %.60q … %q", b, b[max(len(b)-60, 0):])
		}
	}
}

// An answer the caller stops reading past the limit is marked with what was
// read: "at least".
func TestAnAnswerLeftUnreadPastTheLimitIsMarkedAtLeast(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("z", 2<<20))
	}))
	defer srv.Close()
	c, rec, sink, _ := newRecorded(t)
	res, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.CopyN(io.Discard, res.Body, 200<<10)
	res.Body.Close()
	xs := sink.all(t, rec)
	if len(xs) != 1 || !strings.HasPrefix(xs[0].RespBody, "[body not recorded: at least 200 KiB (") {
		t.Fatalf("recorded %.200q", xs[0].RespBody)
	}
}

// A call its caller sends again after a 401 (drop the token, fetch another,
// repeat: each sending a Retry loop of its own) is one call: the repeat is
// its try 2 after 401. The token fetch between, made with the ctx before
// RepeatableCall, is a call of its own, and so is a call made within a try.
func TestARepeatAfterA401IsTheSameCallsNextTry(t *testing.T) {
	var refused bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/payments" && !refused {
			refused = true
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	c, rec, sink, _ := newRecorded(t)
	p := Policy{Attempts: 3, Sleep: func(context.Context, time.Duration) error { return nil }}
	get := func(ctx context.Context, path string) int {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	token := func(ctx context.Context) {
		Retry(WithOp(ctx, Op{Provider: "vipps", Name: "accesstoken"}), p, func(ctx context.Context, _ int) (bool, error) {
			get(ctx, "/token")
			return false, nil
		})
	}
	ctx := context.Background()
	callCtx := RepeatableCall(WithOp(ctx, Op{Provider: "vipps", Name: "get_payment"}))
	for range 2 {
		token(ctx)
		var status int
		Retry(callCtx, p, func(ctx context.Context, _ int) (bool, error) {
			status = get(ctx, "/payments")
			token(ctx) // within a try: a call of its own all the same
			return false, nil
		})
		if status != http.StatusUnauthorized {
			break
		}
	}
	var got []string
	for _, x := range sink.all(t, rec) {
		got = append(got, strings.TrimSpace(fmt.Sprintf("%s %d %s %d", x.Operation, x.Try, x.RetryReason, x.Status)))
	}
	want := []string{"accesstoken 1  200", "get_payment 1  401", "accesstoken 1  200", "accesstoken 1  200",
		"get_payment 2 401 200", "accesstoken 1  200"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("recorded\n%q\nwant\n%q", got, want)
	}
}

// With the providers' clock given, each exchange carries its time there
// too (the sandbox's clock may run ahead of the shop's); without, none.
func TestAnExchangeCarriesTheProvidersClockWhenGiven(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	c, rec, sink, _ := newRecorded(t)
	call := func() {
		req, _ := http.NewRequest("GET", srv.URL, nil)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	call()
	ahead := fixed.Add(6 * time.Minute)
	rec.SetProviderClock(func() time.Time { return ahead })
	call()
	xs := sink.all(t, rec)
	if len(xs) != 2 || !xs[0].ProviderAt.IsZero() || !xs[1].ProviderAt.Equal(ahead) || !xs[1].StartedAt.Equal(fixed) {
		t.Fatalf("recorded %+v", xs)
	}
}
