package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// deadlineApp is just enough App for awaitProvider: a deadline and the work
// tracker.
func deadlineApp(deadline time.Duration) *App {
	log := slog.New(slog.DiscardHandler)
	return &App{Deps: Deps{Log: log, ProviderDeadline: deadline}, work: &providerWork{log: log}}
}

// requestContext is an Echo context for a request carrying ctx.
func requestContext(ctx context.Context) echo.Context {
	req := httptest.NewRequest("POST", "/checkout/vipps", nil).WithContext(ctx)
	return echo.New().NewContext(req, httptest.NewRecorder())
}

// Work slower than the deadline: the request gets errConfirming, the work
// goes on to its end on a context that is still live, and a second request
// for the same key joins it instead of running it again.
func TestAwaitProviderAnswersAtTheDeadlineAndTheWorkGoesOn(t *testing.T) {
	a := deadlineApp(10 * time.Millisecond)
	release := make(chan struct{})
	var runs atomic.Int32
	var ctxErrAtEnd atomic.Value
	work := func(ctx context.Context) (string, error) {
		runs.Add(1)
		<-release // the provider answers only when the test says
		ctxErrAtEnd.Store(errors.Join(ctx.Err()))
		return "landing", nil
	}
	if _, err := awaitProvider(a, requestContext(t.Context()), "demo.create:1", work); !errors.Is(err, errConfirming) {
		t.Fatalf("past the deadline: %v, want errConfirming", err)
	}
	if !a.providerWorkRunning("demo.create:1") {
		t.Fatal("the work stopped with its request")
	}
	if _, err := awaitProvider(a, requestContext(t.Context()), "demo.create:1", work); !errors.Is(err, errConfirming) {
		t.Fatalf("a second request: %v, want errConfirming", err)
	}
	close(release)
	<-a.work.ended("demo.create:1")
	if n := runs.Load(); n != 1 {
		t.Errorf("the work ran %d times, want once (the second request joins the first)", n)
	}
	if err, _ := ctxErrAtEnd.Load().(error); err != nil {
		t.Errorf("the work's context ended with its request: %v", err)
	}
}

// A customer who closes the tab ends the request, not the payment work.
func TestAwaitProviderOutlivesACancelledRequest(t *testing.T) {
	a := deadlineApp(time.Hour) // only the request's end can stop the wait
	ctx, cancel := context.WithCancel(t.Context())
	started, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	go func() {
		<-started
		cancel() // the tab closes while the provider works
	}()
	_, err := awaitProvider(a, requestContext(ctx), "demo.capture:1", func(ctx context.Context) (int, error) {
		close(started)
		<-release
		if ctx.Err() == nil {
			finished.Store(true)
		}
		return 1, nil
	})
	if !errors.Is(err, errConfirming) {
		t.Fatalf("after the request ended: %v, want errConfirming", err)
	}
	close(release)
	<-a.work.ended("demo.capture:1")
	if !finished.Load() {
		t.Error("the work's context ended with the request")
	}
}

// stop waits for running work and refuses new work; a panic in work is its
// error, not the process's end.
func TestProviderWorkStopWaitsAndPanicsAreErrors(t *testing.T) {
	a := deadlineApp(10 * time.Millisecond)
	release := make(chan struct{})
	var done atomic.Bool
	if _, err := awaitProvider(a, requestContext(t.Context()), "demo.slow", func(context.Context) (int, error) {
		<-release
		done.Store(true)
		return 0, nil
	}); !errors.Is(err, errConfirming) {
		t.Fatalf("slow work: %v", err)
	}
	stopped := make(chan struct{})
	go func() {
		a.work.stop()
		close(stopped)
	}()
	close(release)
	<-stopped
	if !done.Load() {
		t.Error("stop returned before the running work ended")
	}
	if _, err := awaitProvider(a, requestContext(t.Context()), "demo.late", func(context.Context) (int, error) { return 0, nil }); !errors.Is(err, errShuttingDown) {
		t.Errorf("work after stop: %v, want errShuttingDown", err)
	}

	b := deadlineApp(time.Hour)
	_, err := awaitProvider(b, requestContext(t.Context()), "demo.panic", func(context.Context) (int, error) { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("panicking work: %v", err)
	}
}
