package deliveries

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"refshop/web/sandbox/store"
)

// States of a delivery.
const (
	Pending   = "pending"   // waiting for its next attempt (or for an earlier delivery)
	Held      = "held"      // held back by a reorder fault until the next delivery of its operation goes
	Delivered = "delivered" // the receiver answered 2xx (or what its Provider's Accepts takes)
	Failed    = "failed"    // every retry of the schedule failed
	Abandoned = "abandoned" // its registration is gone: nothing to send to
)

// Kinds of attempt.
const (
	Scheduled = "scheduled" // the first attempt or a retry
	Duplicate = "duplicate" // the second copy a duplicate fault sends
	Replay    = "replay"    // POST /control/deliveries/{id}/replay
)

// Delivery is one event on its way to one registered URL, as GET
// /control/deliveries answers it (a contract: see package control).
type Delivery struct {
	ID        int64     `json:"id"`
	Provider  string    `json:"provider"`  // "vipps"
	Operation string    `json:"operation"` // the faults' and counts' name: "vipps.webhook_delivery"
	Event     string    `json:"event"`     // "epayments.payment.authorized.v1"
	Ref       string    `json:"ref"`       // what the event is about: a payment reference
	Target    string    `json:"target"`    // the registration (a webhook id)
	URL       string    `json:"url"`
	Body      string    `json:"body"`    // sent as application/json, the same bytes on every attempt
	Created   time.Time `json:"created"` // sandbox clock
	State     string    `json:"state"`
	// NextAt is when the next attempt is due on the sandbox clock (pending
	// only).
	NextAt   *time.Time `json:"next_at,omitempty"`
	Note     string     `json:"note,omitempty"` // what a fault did, why it stopped
	Attempts []Attempt  `json:"attempts"`

	// Tries counts the scheduled attempts made (replays and duplicates
	// not), which the schedule's backoff follows.
	Tries int `json:"tries"`
	// Taken is a fault this delivery took and has not yet carried out in
	// full (after a delay or a reorder): its next attempt takes no new one.
	Taken *Fault `json:"fault_taken,omitempty"`
}

// Attempt is one POST of a delivery (or one not sent: a dropped attempt).
type Attempt struct {
	Kind        string      `json:"kind"`         // Scheduled, Duplicate or Replay
	SandboxTime time.Time   `json:"sandbox_time"` // the sandbox clock when it went
	At          time.Time   `json:"at"`           // the wall clock then
	Status      int         `json:"status"`       // the receiver's status; 0 when none came
	Error       string      `json:"error,omitempty"`
	LatencyMS   float64     `json:"latency_ms"`
	Headers     http.Header `json:"request_headers,omitempty"` // as sent, the signature redacted
}

// OK reports whether the receiver took the attempt (2xx).
func (a Attempt) OK() bool { return a.Status >= 200 && a.Status < 300 }

// Fault is what a control fault does to the next scheduled attempt of a
// delivery operation (control.State.DeliveryFault hands it out).
type Fault struct {
	Drop      bool          `json:"drop,omitempty"`      // not sent; logged as dropped and retried per the schedule
	Delay     time.Duration `json:"delay,omitempty"`     // sent this much later on the sandbox clock
	Duplicate bool          `json:"duplicate,omitempty"` // sent twice
	Reorder   bool          `json:"reorder,omitempty"`   // held back until the next delivery of the operation went
}

// ErrGone is what a Signer answers when the delivery's registration no
// longer exists: the delivery is abandoned.
var ErrGone = errors.New("the registration is gone")

// Signer adds a provider's authentication to a delivery's request just
// before it goes: now is the sandbox clock. The request carries the body
// and its URL already.
type Signer func(d Delivery, req *http.Request, body []byte, now time.Time) error

// Provider is how one provider's deliveries go.
type Provider struct {
	Sign Signer
	// Backoff is the wait after the n-th failed scheduled attempt (n >= 1).
	Backoff func(n int) time.Duration
	// RetryFor is how long after the event attempts go on; the delivery
	// fails once the next one would be later.
	RetryFor time.Duration
	// Timeout bounds each attempt (wall clock): no answer by then is a
	// failure.
	Timeout time.Duration
	// Redact returns the request headers as the log keeps them.
	Redact func(http.Header) http.Header
	// RedactURL returns the URL as the log shows it (nil: as is), for a
	// provider whose receivers are authenticated by a secret in the URL
	// (Klarna's callbacks).
	RedactURL func(string) string
	// Accepts reports whether the receiver's status ends the delivery (nil:
	// any 2xx). Klarna's notifications stop at "a 200 code".
	Accepts func(status int) bool
}

// accepts reports whether a took the delivery by p's rule.
func (p Provider) accepts(a Attempt) bool {
	if p.Accepts != nil {
		return p.Accepts(a.Status)
	}
	return a.OK()
}

// Keep is how many finished deliveries the engine keeps (pending ones are
// always kept).
const Keep = 2000

// Engine stores deliveries and sends them. Safe for concurrent use.
type Engine struct {
	db     *store.Store
	log    *slog.Logger
	now    func() time.Time
	fault  func(op string) Fault
	client *http.Client

	mu        sync.Mutex
	providers map[string]Provider
	before    []func(now time.Time)
	list      []*Delivery // by id
	gen       int         // bumped by Clear: answers for older generations are dropped

	run  sync.Mutex // one RunDue at a time
	kick chan struct{}
	stop context.CancelFunc
	done chan struct{}
}

// New returns an engine storing in db. now is the sandbox clock; fault
// takes the next fault queued for a delivery operation and counts the
// attempt (control.State.DeliveryFault). Load, then Start it.
func New(db *store.Store, log *slog.Logger, now func() time.Time, fault func(op string) Fault) *Engine {
	return &Engine{
		db: db, log: log, now: now, fault: fault,
		// The documented receivers must not redirect: a 3xx is an answer
		// like any other non-2xx, and fails.
		client:    &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		providers: map[string]Provider{},
		kick:      make(chan struct{}, 1),
	}
}

// Register sets how provider's deliveries are signed and retried. provider
// is a Delivery's Provider, or one of its Operations when a provider's
// deliveries go by different rules (Klarna's authorization callback and its
// fraud notification): the operation's rules win.
func (e *Engine) Register(provider string, p Provider) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.providers[provider] = p
}

// BeforeRun registers f to run at the start of every RunDue with the
// sandbox clock's time, outside the engine's lock: a provider raises there
// the events that time alone causes (a payment expiring).
func (e *Engine) BeforeRun(f func(now time.Time)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.before = append(e.before, f)
}

// Load reads the stored deliveries.
func (e *Engine) Load(ctx context.Context) error {
	rows, err := e.db.DB().QueryContext(ctx, `SELECT id, body FROM deliveries ORDER BY id`)
	if err != nil {
		return fmt.Errorf("sandbox deliveries: load: %w", err)
	}
	defer rows.Close()
	var list []*Delivery
	for rows.Next() {
		var id int64
		var body []byte
		if err := rows.Scan(&id, &body); err != nil {
			return fmt.Errorf("sandbox deliveries: load: %w", err)
		}
		d := &Delivery{}
		if err := json.Unmarshal(body, d); err != nil {
			return fmt.Errorf("sandbox deliveries: delivery %d: %w", id, err)
		}
		d.ID = id
		list = append(list, d)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sandbox deliveries: load: %w", err)
	}
	e.mu.Lock()
	e.list = list
	e.mu.Unlock()
	return nil
}

// Start runs the worker until Close: RunDue on every Kick and every second.
func (e *Engine) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	e.stop, e.done = cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			e.RunDue(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-e.kick:
			}
		}
	}()
}

// Close stops the worker and waits for it (an attempt under way is cut
// short and logged as failed).
func (e *Engine) Close() {
	if e.stop != nil {
		e.stop()
		<-e.done
	}
}

// Kick makes the worker look for due work now; it never blocks.
func (e *Engine) Kick() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Enqueue stores d as a new delivery, due now, and kicks the worker. It
// returns at once: the worker sends. Provider, Operation, Event, Target,
// URL and Body are the caller's; the rest the engine's.
func (e *Engine) Enqueue(d Delivery) (int64, error) {
	now := e.now()
	d.ID, d.Created, d.State, d.NextAt, d.Attempts, d.Tries, d.Taken, d.Note = 0, now, Pending, &now, []Attempt{}, 0, nil, ""
	e.mu.Lock()
	defer e.mu.Unlock()
	body, err := json.Marshal(d)
	if err != nil {
		return 0, err
	}
	res, err := e.db.DB().Exec(`INSERT INTO deliveries (body) VALUES (?)`, string(body))
	if err != nil {
		return 0, fmt.Errorf("sandbox deliveries: store: %w", err)
	}
	if d.ID, err = res.LastInsertId(); err != nil {
		return 0, err
	}
	e.list = append(e.list, &d)
	e.trim()
	e.Kick()
	return d.ID, nil
}

// trim forgets the oldest finished deliveries beyond Keep. Callers hold e.mu.
func (e *Engine) trim() {
	extra := len(e.list) - Keep
	if extra <= 0 {
		return
	}
	var gone []int64
	e.list = slices.DeleteFunc(e.list, func(d *Delivery) bool {
		if extra > 0 && d.State != Pending && d.State != Held {
			extra--
			gone = append(gone, d.ID)
			return true
		}
		return false
	})
	for _, id := range gone {
		if _, err := e.db.DB().Exec(`DELETE FROM deliveries WHERE id = ?`, id); err != nil {
			e.log.Warn("sandbox deliveries: forgetting an old delivery failed", "id", id, "error", err)
		}
	}
}

// save writes d's row. Callers hold e.mu.
func (e *Engine) save(d *Delivery) {
	body, err := json.Marshal(d)
	if err == nil {
		_, err = e.db.DB().Exec(`UPDATE deliveries SET body = ? WHERE id = ?`, string(body), d.ID)
	}
	if err != nil {
		e.log.Warn("sandbox deliveries: saving a delivery failed", "id", d.ID, "error", err)
	}
}

// Clear forgets every delivery (POST /control/reset); an attempt under way
// is not logged.
func (e *Engine) Clear() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list, e.gen = nil, e.gen+1
	if _, err := e.db.DB().Exec(`DELETE FROM deliveries`); err != nil {
		e.log.Warn("sandbox deliveries: forgetting the deliveries failed", "error", err)
	}
}

// List returns copies of the latest limit deliveries (every one: limit 0),
// oldest first.
func (e *Engine) List(limit int) []Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	from := 0
	if limit > 0 && len(e.list) > limit {
		from = len(e.list) - limit
	}
	out := make([]Delivery, 0, len(e.list)-from)
	for _, d := range e.list[from:] {
		out = append(out, e.shown(d))
	}
	return out
}

// providerOf is how d goes: by its operation's rules, else its
// provider's. Callers hold e.mu.
func (e *Engine) providerOf(d *Delivery) (Provider, bool) {
	if p, ok := e.providers[d.Operation]; ok {
		return p, true
	}
	p, ok := e.providers[d.Provider]
	return p, ok
}

// shown is a copy of d as the log shows it. Callers hold e.mu.
func (e *Engine) shown(d *Delivery) Delivery {
	c := d.clone()
	if p, ok := e.providerOf(d); ok && p.RedactURL != nil {
		c.URL = p.RedactURL(c.URL)
	}
	return c
}

func (d *Delivery) clone() Delivery {
	c := *d
	c.Attempts = slices.Clone(d.Attempts)
	if d.NextAt != nil {
		t := *d.NextAt
		c.NextAt = &t
	}
	if d.Taken != nil {
		f := *d.Taken
		c.Taken = &f
	}
	return c
}

func (e *Engine) find(id int64) *Delivery {
	i, ok := slices.BinarySearchFunc(e.list, id, func(d *Delivery, id int64) int {
		switch {
		case d.ID < id:
			return -1
		case d.ID > id:
			return 1
		}
		return 0
	})
	if !ok {
		return nil
	}
	return e.list[i]
}

// job is one send the worker makes: a copy of the delivery as it was
// chosen.
type job struct {
	d         Delivery
	p         Provider
	gen       int
	duplicate bool
}

// RunDue sends every delivery due on the sandbox clock now, one at a time,
// and returns when none is left (or ctx ends). Deliveries an attempt made
// due (a retry 0s later, a delivery a reorder released) go in the same run.
func (e *Engine) RunDue(ctx context.Context) {
	e.run.Lock()
	defer e.run.Unlock()
	e.mu.Lock()
	before := slices.Clone(e.before)
	e.mu.Unlock()
	now := e.now()
	for _, f := range before {
		f(now)
	}
	// Bounded: a receiver that keeps failing with a zero backoff must not
	// spin this run forever.
	for range 1000 {
		if ctx.Err() != nil {
			return
		}
		j, ok := e.next()
		if !ok {
			return
		}
		e.send(ctx, j)
	}
}

// orderKey is the unit of ordering: one registration and one Ref.
type orderKey struct{ provider, target, ref string }

// next picks the oldest delivery that is due and not held back by an
// earlier one, applying the fault its attempt takes; attempts a fault drops
// are logged here, and do not go.
func (e *Engine) next() (job, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	busy := map[orderKey]bool{}
	for _, d := range e.list {
		if d.State != Pending {
			continue // a held delivery holds nothing back: a reorder breaks the order on purpose
		}
		k := orderKey{d.Provider, d.Target, d.Ref}
		if busy[k] {
			continue
		}
		busy[k] = true
		if d.NextAt == nil || d.NextAt.After(now) {
			continue
		}
		p, ok := e.providerOf(d)
		if !ok {
			continue // its provider is not emulated now: it waits
		}
		f := Fault{}
		if d.Taken != nil {
			f, d.Taken = *d.Taken, nil
		} else {
			f = e.fault(d.Operation)
		}
		switch {
		case f.Drop:
			d.Attempts = append(d.Attempts, Attempt{Kind: Scheduled, SandboxTime: now, At: time.Now(),
				Error: "dropped by a fault (lose_answer): not sent"})
			d.Tries++
			e.failed(d, p, now)
			e.save(d)
			continue
		case f.Delay > 0:
			at := now.Add(f.Delay)
			d.NextAt, d.Note = &at, fmt.Sprintf("delayed %s by a fault", f.Delay)
			f.Delay = 0
			d.Taken = takenOrNil(f)
			e.save(d)
			continue
		case f.Reorder:
			d.State, d.NextAt = Held, nil
			d.Note = "held back by a reorder fault until the next delivery of " + d.Operation + " goes"
			f.Reorder = false
			d.Taken = takenOrNil(f)
			e.save(d)
			continue
		}
		d.Tries++
		return job{d: d.clone(), p: p, gen: e.gen, duplicate: f.Duplicate}, true
	}
	return job{}, false
}

func takenOrNil(f Fault) *Fault {
	if f == (Fault{}) {
		return nil
	}
	return &f
}

// failed schedules the retry after a failed scheduled attempt, or gives up
// when the schedule is over. Callers hold e.mu.
func (e *Engine) failed(d *Delivery, p Provider, now time.Time) {
	at := now.Add(p.Backoff(d.Tries))
	if at.After(d.Created.Add(p.RetryFor)) {
		d.State, d.NextAt = Failed, nil
		d.Note = fmt.Sprintf("gave up: no retries later than %s after the event", p.RetryFor)
		return
	}
	d.State, d.NextAt = Pending, &at
}

// send makes j's attempt(s) and logs them.
func (e *Engine) send(ctx context.Context, j job) {
	first, gone := e.attempt(ctx, j, Scheduled)
	attempts := []Attempt{first}
	if j.duplicate && !gone {
		dup, _ := e.attempt(ctx, j, Duplicate)
		attempts = append(attempts, dup)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	d := e.find(j.d.ID)
	if d == nil || e.gen != j.gen {
		return // reset meanwhile
	}
	d.Attempts = append(d.Attempts, attempts...)
	switch {
	case d.State != Pending:
		// A replay settled it meanwhile.
	case gone:
		d.State, d.NextAt, d.Note = Abandoned, nil, "not sent: its registration was deleted"
	case slices.ContainsFunc(attempts, j.p.accepts):
		d.State, d.NextAt = Delivered, nil
	default:
		e.failed(d, j.p, attempts[0].SandboxTime)
	}
	e.save(d)
	// A delivery a reorder fault held back goes right after this one.
	for _, h := range e.list {
		if h.State == Held && h.Operation == d.Operation && h.ID != d.ID {
			now := e.now()
			h.State, h.NextAt = Pending, &now
			h.Note += "; released after delivery " + fmt.Sprint(d.ID)
			e.save(h)
		}
	}
}

// attempt POSTs j's body to its URL once, signed now. gone: the signer
// found no registration, and nothing was sent.
func (e *Engine) attempt(ctx context.Context, j job, kind string) (a Attempt, gone bool) {
	now := e.now()
	a = Attempt{Kind: kind, SandboxTime: now, At: time.Now()}
	timeout := j.p.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body := []byte(j.d.Body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.d.URL, strings.NewReader(j.d.Body))
	if err != nil {
		a.Error = "bad URL: " + withoutURL(err)
		return a, false
	}
	req.Header.Set("Content-Type", "application/json")
	if j.p.Sign != nil {
		if err := j.p.Sign(j.d, req, body, now); err != nil {
			a.Error = "not sent: " + err.Error()
			return a, errors.Is(err, ErrGone)
		}
	}
	a.Headers = req.Header.Clone()
	if req.Host != "" {
		a.Headers.Set("Host", req.Host)
	}
	if j.p.Redact != nil {
		a.Headers = j.p.Redact(a.Headers)
	}
	start := time.Now()
	res, err := e.client.Do(req)
	a.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		a.Error = "no answer: " + withoutURL(err)
		if errors.Is(err, context.DeadlineExceeded) {
			a.Error = fmt.Sprintf("timeout: no answer within %s", timeout)
		}
		return a, false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	a.Status = res.StatusCode
	return a, false
}

// withoutURL is err's text without the URL net/http puts in it: the log
// shows each delivery's URL once, redacted (Provider.RedactURL), and a URL
// can carry the receiver's secret (Klarna's one-time callback token).
func withoutURL(err error) string {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}

// ErrNotFound: no delivery has that id (any more).
var ErrNotFound = errors.New("no such delivery")

// Replay sends delivery id again now, as a new attempt: the same body with a
// fresh date and signature, whatever its state and whatever faults are
// queued. A pending or failed delivery the receiver takes is delivered (its
// retries stop); a delivered one stays delivered.
func (e *Engine) Replay(ctx context.Context, id int64) (Delivery, error) {
	e.mu.Lock()
	d := e.find(id)
	if d == nil {
		e.mu.Unlock()
		return Delivery{}, ErrNotFound
	}
	p, ok := e.providerOf(d)
	j := job{d: d.clone(), p: p, gen: e.gen}
	e.mu.Unlock()
	if !ok {
		return Delivery{}, fmt.Errorf("the sandbox does not emulate %s now", j.d.Provider)
	}
	a, _ := e.attempt(ctx, j, Replay)
	e.mu.Lock()
	defer e.mu.Unlock()
	d = e.find(id)
	if d == nil || e.gen != j.gen {
		return Delivery{}, ErrNotFound
	}
	d.Attempts = append(d.Attempts, a)
	if p.accepts(a) && (d.State == Pending || d.State == Failed) {
		d.State, d.NextAt, d.Taken = Delivered, nil, nil
	}
	e.save(d)
	return e.shown(d), nil
}
