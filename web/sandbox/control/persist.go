package control

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"refshop/web/clock"
	"refshop/web/sandbox/store"
)

// Clock is the sandbox clock: its base clock plus how far POST
// /control/clock has moved it, which the store keeps.
type Clock struct {
	*clock.Offset
	mu    sync.Mutex
	moved time.Duration
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.moved += d
	c.Offset.Advance(d)
}

// Reset drops what the clock was moved by.
func (c *Clock) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.moved = 0
	c.Offset.Reset()
}

// Moved is how far the clock was moved since the start (or the last reset).
func (c *Clock) Moved() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.moved
}

// Persister is a part of the sandbox whose objects the store keeps (see
// package store).
type Persister interface {
	// Dump returns every object the part holds now, each as its own
	// consistent copy (under the part's lock).
	Dump() []store.Object
	// Restore replaces the part's objects with those the store loaded.
	Restore(store.Loaded) error
}

type persisted struct {
	part string
	p    Persister
}

// Persist has the store keep part's objects: Open restores them, and after
// every request served by a route registered on the returned mux the part is
// saved. Register every route of the part there, and call Persist before
// Open.
func (s *State) Persist(part string, p Persister, mux *http.ServeMux) *PartMux {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parts = append(s.parts, persisted{part, p})
	return &PartMux{mux: mux, part: part}
}

// PartMux registers one part's routes on the sandbox's mux, so that Wrap
// knows which parts a request reached and saves just those: a save encodes
// the whole part.
type PartMux struct {
	mux  *http.ServeMux
	part string
}

// Handle registers h for pattern.
func (m *PartMux) Handle(pattern string, h http.Handler) {
	m.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a, ok := r.Context().Value(answerKey{}).(*answerWriter); ok {
			a.reached(m.part)
		}
		h.ServeHTTP(w, r)
	}))
}

// HandleFunc registers h for pattern.
func (m *PartMux) HandleFunc(pattern string, h http.HandlerFunc) { m.Handle(pattern, h) }

// controlPart is the control state's part in the store.
const controlPart = "control"

// Dump returns the control state the store keeps.
//
// What of it survives a restart, and why:
//   - the clock's offset: tokens, sessions and payments carry expiry times on
//     the sandbox clock, and the clock never goes back; losing the offset would
//     bring expired tokens back to life.
//   - the settings: a real provider has none, but here they shape how the
//     stored objects behave (rotation, auto consent, idempotent create order,
//     token lifetimes), and a test or a person who set them expects the same
//     provider after a restart: a restart is not a reset.
//   - the call counts, which count since the last reset: a test that counts a
//     provider's calls across a restart must not see them drop.
//
// Pending faults do not: a fault stands for a passing outage or network
// trouble aimed at the next calls, and a restart is where such trouble ends;
// a fault left over from before it would hit calls nobody aimed it at.
func (s *State) Dump() []store.Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	objs := []store.Object{
		{Kind: "settings", ID: "current", Value: s.settings},
		{Kind: "clock", ID: "moved", Value: Duration(s.Clock.Moved())},
	}
	return store.Encoded(append(objs, store.All("calls", s.calls)...))
}

// Restore takes back the control state the store kept.
func (s *State) Restore(l store.Loaded) error {
	var err error
	settings, moved := DefaultSettings(), Duration(0)
	store.One(l, "settings", "current", &settings, &err)
	store.One(l, "clock", "moved", &moved, &err)
	calls := store.Decode[int](l, "calls", &err)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settings, s.calls = settings, calls
	s.Clock.Reset()
	s.Clock.Advance(moved.D())
	return nil
}

// Open restores the control state and every persisted part from db and
// from then on saves them after each request (Wrap) and at reset. Save
// errors are logged to log: the answer is written by then, and the next save
// writes what this one could not.
func (s *State) Open(ctx context.Context, db *store.Store, log *slog.Logger) error {
	s.mu.Lock()
	parts := append([]persisted{{controlPart, s}}, s.parts...)
	s.mu.Unlock()
	for _, pp := range parts {
		l, err := db.Load(ctx, pp.part)
		if err != nil {
			return err
		}
		if err := pp.p.Restore(l); err != nil {
			return fmt.Errorf("sandbox: %s in %s: %w (POST /control/reset forgets it, or delete the file)", pp.part, db.Path(), err)
		}
	}
	s.saveMu.Lock()
	s.db, s.log, s.saving = db, log, parts
	s.saveMu.Unlock()
	return nil
}

// Save writes the named parts to the store now, for a change no request
// made (a payment expiring as the worker looks): Wrap saves what requests
// change.
func (s *State) Save(ctx context.Context, parts ...string) {
	if len(parts) > 0 {
		s.save(ctx, parts...)
	}
}

// save writes the objects of the parts named (every part with none named)
// to the store, one save at a time, so that an older dump never overwrites a
// newer one.
func (s *State) save(ctx context.Context, parts ...string) {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if s.db == nil {
		return
	}
	dump := make(map[string][]store.Object, len(s.saving))
	for _, pp := range s.saving {
		if len(parts) == 0 || slices.Contains(parts, pp.part) {
			dump[pp.part] = pp.p.Dump()
		}
	}
	if err := s.db.Save(ctx, dump); err != nil {
		s.log.Error("sandbox: saving its state failed", "file", s.db.Path(), "error", err)
	}
}

// forget deletes everything the store holds; reset calls it.
func (s *State) forget(ctx context.Context) {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if s.db == nil {
		return
	}
	if err := s.db.Forget(ctx); err != nil {
		s.log.Error("sandbox: forgetting its state failed", "file", s.db.Path(), "error", err)
	}
}
