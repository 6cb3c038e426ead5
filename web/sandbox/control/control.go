package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"refshop/web/clock"
	"refshop/web/sandbox/deliveries"
	"refshop/web/sandbox/exchanges"
	"refshop/web/sandbox/store"
)

// ErrorWriter writes an error response with status in one provider's own shape.
type ErrorWriter func(w http.ResponseWriter, r *http.Request, status int)

type fault struct {
	Status int      `json:"status"`
	Times  int      `json:"times"`
	Delay  Duration `json:"delay"`
	// LoseAnswer: the operation runs, then the connection closes without an
	// answer, as when a timeout or a dropped connection hits after the
	// provider did the work.
	LoseAnswer bool `json:"lose_answer,omitempty"`
	// CommitLate: the delay is waited in full even when the caller hangs up
	// meanwhile, and the operation then runs, as a slow provider carries
	// out a request its caller gave up on. Without it a caller hanging up
	// during the delay ends the call there, and the operation never runs.
	CommitLate bool `json:"commit_late,omitempty"`
	// Duplicate and Reorder apply to delivery operations only (see
	// DeliveryOperations): the next deliveries go twice, or are held back
	// until the next delivery of the operation has gone.
	Duplicate bool `json:"duplicate,omitempty"`
	Reorder   bool `json:"reorder,omitempty"`
}

// State is the sandbox's clock, settings, faults and counts. Safe for
// concurrent use.
type State struct {
	Clock  *Clock
	Config Config

	mu         sync.Mutex
	settings   Settings
	keys       map[string]struct{} // op and idempotency key of the calls since the reset (seenKey)
	faults     map[string]*fault
	calls      map[string]int
	operations map[string]bool
	delivery   map[string]bool // the operations that are deliveries (DeliveryOperations)
	shapes     map[string]ErrorWriter
	resets     []func()
	clockMoves []func()

	// Deliveries sends the events the providers raise to the URLs the shop
	// registered (webhooks), and answers the delivery log's control routes.
	Deliveries *deliveries.Engine

	// crossOrigin refuses cross-origin writes (see Wrap).
	crossOrigin *http.CrossOriginProtection

	parts  []persisted // registered with Persist
	saveMu sync.Mutex  // one save at a time; guards the three below
	db     *store.Store
	log    *slog.Logger
	saving []persisted // the control state and parts, once Open ran
}

// New returns a sandbox state provisioned with cfg. base is the clock the
// sandbox clock runs on (the wall clock when nil).
func New(cfg Config, base clock.Clock) *State {
	return &State{
		Clock:       &Clock{Offset: clock.NewOffset(base)},
		Config:      cfg,
		settings:    DefaultSettings(),
		faults:      map[string]*fault{},
		calls:       map[string]int{},
		operations:  map[string]bool{},
		delivery:    map[string]bool{},
		shapes:      map[string]ErrorWriter{},
		crossOrigin: newCrossOriginProtection(),
	}
}

// Now is the sandbox clock's time.
func (s *State) Now() time.Time { return s.Clock.Now() }

// Settings returns a copy of the current settings.
func (s *State) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings
}

// Operations declares operation names ("vipps.accesstoken") that faults may
// target and that appear in the call counts.
func (s *State) Operations(names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		s.operations[n] = true
	}
}

// DeliveryOperations declares operations that are the sandbox's deliveries
// to the shop (vipps.webhook_delivery) rather than calls it answers: faults
// on them drop (lose_answer), delay, duplicate or reorder the next
// deliveries (see DeliveryFault), and their count is the scheduled attempts.
func (s *State) DeliveryOperations(names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		s.operations[n] = true
		s.delivery[n] = true
	}
}

// DeliveryFault counts one scheduled delivery attempt of op and hands out
// the next fault queued for it (none: the zero Fault).
func (s *State) DeliveryFault(op string) deliveries.Fault {
	s.mu.Lock()
	if !s.delivery[op] {
		s.mu.Unlock()
		panic("control: undeclared delivery operation " + op)
	}
	s.calls[op]++
	q := s.faults[op]
	if q == nil {
		s.mu.Unlock()
		return deliveries.Fault{}
	}
	f := *q
	if q.Times--; q.Times <= 0 {
		delete(s.faults, op)
	}
	s.mu.Unlock()
	s.logger().Info("sandbox: delivery fault applied", "operation", op, "lose_answer", f.LoseAnswer,
		"delay", time.Duration(f.Delay), "duplicate", f.Duplicate, "reorder", f.Reorder)
	return deliveries.Fault{Drop: f.LoseAnswer, Delay: f.Delay.D(), Duplicate: f.Duplicate, Reorder: f.Reorder}
}

// OnClockMove registers f to run after POST /control/clock moved the clock
// (the deliveries' worker looks for retries come due).
func (s *State) OnClockMove(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clockMoves = append(s.clockMoves, f)
}

// ErrorShape registers how provider (the part of an operation name before the
// dot) writes an error, so injected faults look like the real thing. A full
// operation name ("klarna.token_refresh") registers a shape for that operation
// alone, for a provider whose parts answer errors in different shapes (Klarna
// Payments' ErrorV2 and Sign in with Klarna's OAuth 2.0 errors).
func (s *State) ErrorShape(provider string, w ErrorWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shapes[provider] = w
}

// OnReset registers a function that drops a provider's stored objects.
func (s *State) OnReset(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resets = append(s.resets, f)
}

// Hit counts one call of op and applies the next queued fault for it: it waits
// the fault's delay and, when the fault has a status, writes the provider's
// error and returns true; the handler must then stop. A lose_answer fault
// returns false: the handler runs, and Wrap drops what it answers.
func (s *State) Hit(w http.ResponseWriter, r *http.Request, op string) bool {
	s.mu.Lock()
	if !s.operations[op] {
		s.mu.Unlock()
		panic("control: undeclared operation " + op)
	}
	exchanges.Operation(r.Context(), op) // the recorded exchange's operation
	s.calls[op]++
	var f fault
	faulted := false
	if q := s.faults[op]; q != nil {
		f, faulted = *q, true
		if q.Times--; q.Times <= 0 {
			delete(s.faults, op)
		}
	}
	key := idempotencyKey(r.Header)
	again := key != "" && s.seenKey(op, key)
	shape, ok := s.shapes[op]
	if !ok {
		shape = s.shapes[strings.SplitN(op, ".", 2)[0]]
	}
	s.mu.Unlock()

	// The sandbox's side of the story, at INFO: a retry the caller's own log
	// may not show (Go's HTTP client and browsers resend a request carrying
	// an Idempotency-Key on a reused connection without a word), and each
	// fault as it hits.
	log := s.logger()
	if again {
		log.InfoContext(r.Context(), "sandbox: the same idempotency key again: a retry of an earlier call",
			"operation", op, "idempotency_key", key)
	}
	if faulted {
		log.InfoContext(r.Context(), "sandbox: fault applied", "operation", op, "status", f.Status,
			"delay", time.Duration(f.Delay), "lose_answer", f.LoseAnswer, "commit_late", f.CommitLate)
	}

	switch {
	case f.Delay > 0 && f.CommitLate:
		// A real wait, whatever the caller does; then the operation runs
		// (its answer goes nowhere if the caller is gone).
		_ = sleep(context.WithoutCancel(r.Context()), time.Duration(f.Delay))
	case f.Delay > 0:
		// A real wait: a fault's delay exists to exercise the caller's
		// timeouts. net/http notices a caller hanging up only once the
		// request body is read, so it is read first: otherwise a POST's
		// operation would run after its caller gave up.
		bufferBody(r)
		if sleep(r.Context(), time.Duration(f.Delay)) != nil {
			return true
		}
	}
	if f.LoseAnswer {
		a, ok := r.Context().Value(answerKey{}).(*answerWriter)
		if !ok {
			panic("control: a lose_answer fault needs State.Wrap around the sandbox's handler")
		}
		a.lose()
		return false
	}
	if f.Status == 0 {
		return false
	}
	if shape == nil {
		http.Error(w, http.StatusText(f.Status), f.Status)
	} else {
		shape(w, r, f.Status)
	}
	return true
}

// idempotencyKey is the request's idempotency key, under the header name
// its provider uses.
func idempotencyKey(h http.Header) string {
	for _, name := range []string{"Idempotency-Key", "Klarna-Idempotency-Key"} {
		if v := h.Get(name); v != "" {
			return v
		}
	}
	return ""
}

// maxKeys bounds the idempotency keys seenKey remembers; past it the memory
// starts over (a missed "again" line is all that is lost).
const maxKeys = 10000

// seenKey reports whether op was called with key before (since the last
// reset), and remembers it. Callers hold s.mu.
func (s *State) seenKey(op, key string) bool {
	k := op + "\x00" + key
	if _, ok := s.keys[k]; ok {
		return true
	}
	if s.keys == nil || len(s.keys) >= maxKeys {
		s.keys = map[string]struct{}{}
	}
	s.keys[k] = struct{}{}
	return false
}

// logger is the sandbox's log (discarded until persistence set it).
func (s *State) logger() *slog.Logger {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if s.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.log
}

// Calls returns how many times op was called since the last reset.
func (s *State) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// Reset puts every setting, fault, count and stored object back to the
// start, in memory and in the store.
func (s *State) Reset() {
	s.mu.Lock()
	s.settings = DefaultSettings()
	s.faults = map[string]*fault{}
	s.keys = nil
	s.calls = map[string]int{}
	resets := append([]func(){}, s.resets...)
	s.mu.Unlock()
	s.Clock.Reset()
	for _, f := range resets {
		f()
	}
	s.forget(context.Background())
	s.save(context.Background())
}

// StateView is the body of GET /control/state.
type StateView struct {
	Now        time.Time        `json:"now"`
	Settings   Settings         `json:"settings"`
	Calls      map[string]int   `json:"calls"`
	Faults     map[string]fault `json:"faults"`
	Operations []string         `json:"operations"`
}

// View returns the current state.
func (s *State) View() StateView {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := StateView{Now: s.Clock.Now().UTC(), Settings: s.settings, Calls: map[string]int{}, Faults: map[string]fault{}}
	for op := range s.operations {
		v.Operations = append(v.Operations, op)
		v.Calls[op] = s.calls[op]
	}
	sort.Strings(v.Operations)
	for op, f := range s.faults {
		v.Faults[op] = *f
	}
	return v
}

// Routes registers the control API on mux.
func (s *State) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /control/state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.View())
	})
	mux.HandleFunc("POST /control/reset", func(w http.ResponseWriter, r *http.Request) {
		s.Reset()
		writeJSON(w, http.StatusOK, s.View())
	})
	mux.HandleFunc("POST /control/settings", s.postSettings)
	mux.HandleFunc("POST /control/clock", s.postClock)
	mux.HandleFunc("POST /control/faults", s.postFault)
	mux.HandleFunc("DELETE /control/faults/{operation}", s.deleteFaults)
}

func (s *State) postSettings(w http.ResponseWriter, r *http.Request) {
	var changes map[string]json.RawMessage
	if err := decodeJSON(r, &changes); err != nil {
		writeProblem(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	next, err := s.settings.apply(changes)
	if err == nil {
		s.settings = next
	}
	s.mu.Unlock()
	if err != nil {
		writeProblem(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, s.View())
}

func (s *State) postClock(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Advance Duration `json:"advance"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeProblem(w, http.StatusBadRequest, err.Error())
		return
	}
	if body.Advance <= 0 {
		writeProblem(w, http.StatusBadRequest, `"advance" must be a positive duration such as "10m"; the sandbox clock never goes back (use /control/reset)`)
		return
	}
	s.Clock.Advance(time.Duration(body.Advance))
	s.mu.Lock()
	moves := slices.Clone(s.clockMoves)
	s.mu.Unlock()
	for _, f := range moves {
		f()
	}
	writeJSON(w, http.StatusOK, s.View())
}

func (s *State) postFault(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Operation  string   `json:"operation"`
		Status     int      `json:"status"`
		Times      *int     `json:"times"`
		Delay      Duration `json:"delay"`
		LoseAnswer bool     `json:"lose_answer"`
		CommitLate bool     `json:"commit_late"`
		Duplicate  bool     `json:"duplicate"`
		Reorder    bool     `json:"reorder"`
	}
	if err := decodeJSON(r, &body); err != nil {
		writeProblem(w, http.StatusBadRequest, err.Error())
		return
	}
	times := 1
	if body.Times != nil {
		times = *body.Times
	}
	s.mu.Lock()
	delivery := s.delivery[body.Operation]
	s.mu.Unlock()
	switch {
	case !s.knownOperation(w, body.Operation):
		return
	case delivery && (body.Status != 0 || body.CommitLate):
		writeProblem(w, http.StatusBadRequest, body.Operation+` is a delivery to the shop, not a call the sandbox answers: its faults are "lose_answer" (drop), "delay", "duplicate" and "reorder", with no "status" or "commit_late"`)
		return
	case !delivery && (body.Duplicate || body.Reorder):
		writeProblem(w, http.StatusBadRequest, `"duplicate" and "reorder" apply to delivery operations (such as vipps.webhook_delivery) only`)
		return
	case body.Status != 0 && (body.Status < 400 || body.Status > 599):
		writeProblem(w, http.StatusBadRequest, `"status" must be 0 (delay only) or an error status 400-599`)
		return
	case times < 1:
		writeProblem(w, http.StatusBadRequest, `"times" must be at least 1`)
		return
	case body.Delay < 0:
		writeProblem(w, http.StatusBadRequest, `"delay" must not be negative`)
		return
	case body.LoseAnswer && body.Status != 0:
		writeProblem(w, http.StatusBadRequest, `"lose_answer" runs the operation and drops its answer: give no "status" with it`)
		return
	case body.CommitLate && (body.Status != 0 || body.Delay <= 0):
		writeProblem(w, http.StatusBadRequest, `"commit_late" runs the operation after its "delay" even when the caller has hung up: give a "delay" and no "status" with it`)
		return
	}
	s.mu.Lock()
	s.faults[body.Operation] = &fault{Status: body.Status, Times: times, Delay: body.Delay, LoseAnswer: body.LoseAnswer,
		CommitLate: body.CommitLate, Duplicate: body.Duplicate, Reorder: body.Reorder}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.View())
}

// deleteFaults is DELETE /control/faults/{operation}: the operation's
// pending faults are dropped (none pending is fine).
func (s *State) deleteFaults(w http.ResponseWriter, r *http.Request) {
	op := r.PathValue("operation")
	if !s.knownOperation(w, op) {
		return
	}
	s.mu.Lock()
	delete(s.faults, op)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.View())
}

// knownOperation reports whether op is declared; if not, it answers 400
// listing the operations that are.
func (s *State) knownOperation(w http.ResponseWriter, op string) bool {
	s.mu.Lock()
	known := s.operations[op]
	var ops []string
	for name := range s.operations {
		ops = append(ops, name)
	}
	s.mu.Unlock()
	if !known {
		sort.Strings(ops)
		writeProblem(w, http.StatusBadRequest, fmt.Sprintf("unknown operation %q; known: %s", op, strings.Join(ops, ", ")))
	}
	return known
}

// decodeJSON reads one JSON object, refusing unknown fields and trailing data.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body must be a JSON object: %v", err)
	}
	if dec.More() {
		return errors.New("body must hold one JSON object")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeProblem answers a control API error. The control API is the sandbox's
// own, so it has its own shape: {"error": "..."}.
func writeProblem(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// bufferBody reads r's body (up to 1 MiB) ahead of the handler, which reads
// the same bytes from r.Body afterwards.
func bufferBody(r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
}

// sleep waits d on a real timer unless ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type answerKey struct{}

// AllowCrossOrigin exempts the routes matching pattern (a ServeMux pattern)
// from Wrap's cross-origin check: routes that browsers on other origins call
// by design, with CORS and a bearer token rather than anything a browser
// sends on its own (the Alternative Payments checkout API).
func (s *State) AllowCrossOrigin(pattern string) { s.crossOrigin.AddInsecureBypassPattern(pattern) }

func newCrossOriginProtection() *http.CrossOriginProtection {
	p := http.NewCrossOriginProtection()
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const msg = "cross-origin request refused: the sandbox takes writes only from its own pages and from tools and servers (which send no Origin)"
		if strings.HasPrefix(r.URL.Path, "/control/") {
			writeProblem(w, http.StatusForbidden, msg)
			return
		}
		http.Error(w, msg, http.StatusForbidden)
	}))
	return p
}

// onlyJSON reports whether a control request's body, if it has one, is JSON;
// if not it answers 415. A POST with no body and no type (curl -X POST
// .../control/reset) passes: it cannot smuggle anything in.
func onlyJSON(w http.ResponseWriter, r *http.Request) bool {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return true
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		return true
	}
	writeProblem(w, http.StatusUnsupportedMediaType, "the control API takes JSON: send the body with Content-Type: application/json")
	return false
}

// Wrap serves next as every sandbox request must be served:
//   - Cross-origin writes are refused (http.CrossOriginProtection): a web
//     page must not steer the sandbox, nor post to a provider API or to the
//     sandbox's own pages from another site. Those pages post to their own
//     origin, and servers and tools send no Origin, so they pass; routes given
//     to AllowCrossOrigin are exempt.
//   - Control writes take only JSON (415 otherwise), so no simple form or
//     text/plain post reaches them even from a browser without Origin.
//   - What the request changed is saved to the store (see Open) before the
//     request ends: the control state and the parts whose routes it reached.
//   - lose_answer faults work: Hit marks the request's answer lost, the
//     handler's writes are dropped, and the connection is closed without a
//     response (the client sees no answer, as after a timeout). What the
//     operation did is saved all the same.
func (s *State) Wrap(next http.Handler) http.Handler {
	return s.crossOrigin.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/control/") && r.Method != http.MethodGet && r.Method != http.MethodHead && !onlyJSON(w, r) {
			return
		}
		a := &answerWriter{ResponseWriter: w}
		next.ServeHTTP(a, r.WithContext(context.WithValue(r.Context(), answerKey{}, a)))
		s.save(context.WithoutCancel(r.Context()), append(a.parts(), controlPart)...)
		if a.isLost() {
			panic(http.ErrAbortHandler) // net/http closes the connection, writing nothing
		}
	}))
}

// answerWriter passes writes through until its answer is lost, then drops
// them. Hit loses it before the handler writes anything. It also notes which
// persisted parts the request reached (PartMux).
type answerWriter struct {
	http.ResponseWriter
	mu      sync.Mutex
	lost    bool
	touched []string
}

func (a *answerWriter) reached(part string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !slices.Contains(a.touched, part) {
		a.touched = append(a.touched, part)
	}
}

func (a *answerWriter) parts() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.touched
}

func (a *answerWriter) lose() {
	a.mu.Lock()
	a.lost = true
	a.mu.Unlock()
}

func (a *answerWriter) isLost() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lost
}

func (a *answerWriter) WriteHeader(code int) {
	if !a.isLost() {
		a.ResponseWriter.WriteHeader(code)
	}
}

func (a *answerWriter) Write(b []byte) (int, error) {
	if a.isLost() {
		return len(b), nil
	}
	return a.ResponseWriter.Write(b)
}

func (a *answerWriter) Flush() {
	if f, ok := a.ResponseWriter.(http.Flusher); ok && !a.isLost() {
		f.Flush()
	}
}

func (a *answerWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }
