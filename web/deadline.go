package web

// A customer request that calls a provider ends inside the server's own
// timeouts (cmd/shop: 60 s to write the answer) whatever the provider does.
// A provider client may retry (three tries of up to 20 s each for Vipps):
// left to the request, those tries outlive it, the server cuts the answer
// off, and the browser silently posts the form again. So:
//
//   - Every request gets one deadline for all its provider work
//     (Deps.ProviderDeadline, 15 s unless set), counted from its first call
//     to awaitProvider.
//   - The work itself runs on a context detached from the request
//     (context.WithoutCancel, bounded by detachedWorkLimit): a closed tab or
//     a passed deadline never abandons a half-done payment.
//   - When the deadline passes first, awaitProvider returns errConfirming and
//     the handler answers with the attempt's stored state (the order page:
//     "We are still confirming ...", reloading itself) while the work goes on.
//   - Work is keyed by what it does to which attempt ("vipps.create:order:12"): a
//     second request for the same key, a repeated form post or the order page
//     polling, joins the running work instead of starting it again.
//   - RunBackground waits for running work when it stops, so cmd/shop closes
//     the database only after it has finished.
//
// A flow adopts it in three steps:
//
//  1. Store the attempt and its idempotency keys before calling the provider
//     (the keys make a retry after a crash or in another process safe).
//  2. Call the provider through awaitProvider(a, c, key, work). work must use
//     only its ctx argument and values it was given, never c: the request may
//     be over when it runs. It records the provider's answer itself.
//  3. On errConfirming, redirect to the order page; the flow's orderPart shows
//     "still confirming" and calls keepChecking while a.providerWorkRunning(key)
//     or while the attempt has no answer from the provider yet. work may
//     return errConfirming too, when the outcome stays unknown (no answer,
//     and the provider could not be asked either).
//
// Every payment flow uses it: vipps_checkout.go (create) and vipps_settle.go
// (return, order page); altpay_checkout.go (customer and invoice),
// altpay_attempt.go and altpay_order.go (a second submit, the order page);
// klarna_checkout.go (the session, placing the order), klarna_attempt.go (a
// second submit) and klarna_buyagain.go. Their order pages show the same
// notice (views.Confirming). Sign in with Klarna (klarnasignin.go) uses it
// for discovery, the code exchange, and revocation.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

const (
	// defaultProviderDeadline is a request's budget for all its provider
	// calls: a quarter of cmd/shop's write timeout, and short enough that a
	// person waits rather than reloads.
	defaultProviderDeadline = 15 * time.Second
	// detachedWorkLimit bounds provider work once detached from its request:
	// longer than any one call's own retries (3 tries of at most 20 s, plus
	// backoff), so the client's answer is what ends a call. Work of several
	// calls that runs out (Klarna: create order, then read the session) ends
	// as after a crash: its stored request and key let the order page and the
	// sweeps settle it.
	detachedWorkLimit = 2 * time.Minute
	// confirmingRefreshSeconds is how often a "still confirming" page reloads.
	confirmingRefreshSeconds = "3"
)

// errConfirming means the provider's answer is not known yet: the work is
// still running after the request's deadline, or it ended without learning
// the outcome. The attempt stays open; its order page tells the customer.
var errConfirming = errors.New("web: the provider's answer is not known yet")

// errShuttingDown refuses new provider work once RunBackground has stopped.
var errShuttingDown = errors.New("web: shutting down; no new provider work")

// providerWork runs provider calls detached from their requests and keeps
// track of them, by key, until they end.
type providerWork struct {
	log    *slog.Logger
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup // Add under mu while not closed, so Wait never races it
	runs   map[string]*workRun
}

// workRun is one running piece of provider work; done closes when it ends,
// and only then are val and err set.
type workRun struct {
	done chan struct{}
	val  any
	err  error
}

// start runs work under key, detached from parent's cancellation and bounded
// by detachedWorkLimit, or returns the run already going for key.
func (w *providerWork) start(parent context.Context, key string, work func(context.Context) (any, error)) (*workRun, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r, ok := w.runs[key]; ok {
		return r, nil
	}
	if w.closed {
		return nil, errShuttingDown
	}
	if w.runs == nil {
		w.runs = map[string]*workRun{}
	}
	r := &workRun{done: make(chan struct{})}
	w.runs[key] = r
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		// The order or account the key names is what the work's provider
		// calls are recorded under (exchanges.go).
		ctx, cancel := context.WithTimeout(withSubject(context.WithoutCancel(parent), key), detachedWorkLimit)
		defer cancel()
		val, err := runRecovered(ctx, work)
		if err != nil && !errors.Is(err, errConfirming) {
			w.log.Warn("provider work failed", "work", key, "error", err)
		}
		w.mu.Lock()
		delete(w.runs, key)
		r.val, r.err = val, err
		w.mu.Unlock()
		close(r.done)
	}()
	return r, nil
}

// runRecovered turns a panic in work into its error: work runs outside the
// request, where the server's recover cannot catch it.
func runRecovered(ctx context.Context, work func(context.Context) (any, error)) (val any, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("provider work panicked: %v", p)
		}
	}()
	return work(ctx)
}

// running reports whether work for key is under way in this process.
func (w *providerWork) running(key string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.runs[key]
	return ok
}

// ended returns a channel closed once no work for key runs (already closed
// when none does).
func (w *providerWork) ended(key string) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r, ok := w.runs[key]; ok {
		return r.done
	}
	done := make(chan struct{})
	close(done)
	return done
}

// stop refuses new work and waits for the running work to end.
func (w *providerWork) stop() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.wg.Wait()
}

// ctxProviderDeadline holds a request's deadline once its first provider
// work has started.
const ctxProviderDeadline = "provider_deadline"

// awaitProvider runs work for the request c (see the top of this file) and
// waits for it until the request's deadline. It returns work's own result,
// or errConfirming when the deadline passed or the customer left first; the
// work then goes on. A second call with a key whose work is running joins it.
// The deadline is wall-clock time, as the server's timeouts are.
func awaitProvider[T any](a *App, c echo.Context, key string, work func(context.Context) (T, error)) (T, error) {
	var zero T
	deadline, ok := c.Get(ctxProviderDeadline).(time.Time)
	if !ok {
		deadline = time.Now().Add(a.providerDeadline())
		c.Set(ctxProviderDeadline, deadline)
	}
	req := c.Request().Context()
	r, err := a.work.start(req, key, func(ctx context.Context) (any, error) { return work(ctx) })
	if err != nil {
		return zero, err
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-r.done:
		v, _ := r.val.(T)
		return v, r.err
	case <-t.C:
		a.Log.Info("provider work outlived its request's deadline; it goes on in the background", "work", key)
	case <-req.Done():
	}
	return zero, errConfirming
}

// workKey names the provider work op (e.g. "vipps.create") does for the
// payment attempt orderID: "vipps.create:order:12". The work's provider
// calls are recorded under the order (workSubject).
func workKey(op string, orderID int64) string { return fmt.Sprintf("%s:order:%d", op, orderID) }

// userWorkKey names the provider work op does for the account userID:
// "klarnasignin.disconnect:eu:user:7".
func userWorkKey(op string, userID int64) string { return fmt.Sprintf("%s:user:%d", op, userID) }

// providerDeadline is Deps.ProviderDeadline or its default.
func (a *App) providerDeadline() time.Duration {
	if a.ProviderDeadline > 0 {
		return a.ProviderDeadline
	}
	return defaultProviderDeadline
}

// providerWorkRunning reports whether work for key is under way in this
// process (in another one, the attempt's stored state tells).
func (a *App) providerWorkRunning(key string) bool { return a.work.running(key) }

// keepChecking makes the page being answered reload itself after a few
// seconds, with no script: the Refresh header, which browsers treat as a
// <meta http-equiv="refresh">. For pages that say "still confirming".
func keepChecking(c echo.Context) {
	c.Response().Header().Set("Refresh", confirmingRefreshSeconds)
}
