package outbound

import (
	"context"
	"errors"
	"testing"
	"time"
)

var errBusy = errors.New("503")

func TestRetryIsBoundedAndBacksOff(t *testing.T) {
	var waits []time.Duration
	p := Policy{Attempts: 3, Backoff: 100 * time.Millisecond,
		Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }}
	calls := 0
	err := Retry(context.Background(), p, func(_ context.Context, attempt int) (bool, error) {
		calls++
		if attempt != calls {
			t.Errorf("attempt %d on call %d", attempt, calls)
		}
		return true, errBusy
	})
	if !errors.Is(err, errBusy) || calls != 3 {
		t.Fatalf("err %v after %d calls, want the last error after 3", err, calls)
	}
	if len(waits) != 2 || waits[0] != 100*time.Millisecond || waits[1] != 200*time.Millisecond {
		t.Errorf("waits %v, want [100ms 200ms]", waits)
	}
}

func TestRetryStopsOnSuccessAndOnFinalAnswers(t *testing.T) {
	p := Policy{Attempts: 5, Sleep: func(context.Context, time.Duration) error { return nil }}
	calls := 0
	if err := Retry(context.Background(), p, func(_ context.Context, attempt int) (bool, error) {
		calls++
		if attempt < 2 {
			return true, errBusy
		}
		return false, nil
	}); err != nil || calls != 2 {
		t.Errorf("success on the second try: %v after %d calls", err, calls)
	}
	refused := errors.New("400")
	calls = 0
	if err := Retry(context.Background(), p, func(context.Context, int) (bool, error) { calls++; return false, refused }); err != refused || calls != 1 {
		t.Errorf("a final answer: %v after %d calls, want it at once", err, calls)
	}
	calls = 0
	if err := Retry(context.Background(), Policy{}, func(context.Context, int) (bool, error) { calls++; return true, errBusy }); err != errBusy || calls != 1 {
		t.Errorf("zero policy: %d calls, want 1", calls)
	}
}

func TestRetryJitterStaysWithinItsFraction(t *testing.T) {
	p := Policy{Backoff: 100 * time.Millisecond, Jitter: 0.5}
	seen := map[time.Duration]bool{}
	for range 200 {
		w := p.Wait(2)
		if w < 200*time.Millisecond || w > 300*time.Millisecond {
			t.Fatalf("wait %v outside [200ms, 300ms]", w)
		}
		seen[w] = true
	}
	if len(seen) < 2 {
		t.Error("no jitter")
	}
}

func TestRetryEndsWithTheContext(t *testing.T) {
	// Done during a try: no wait, the try's own error.
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := Retry(ctx, Policy{Attempts: 3, Backoff: time.Hour}, func(context.Context, int) (bool, error) {
		calls++
		cancel()
		return true, errBusy
	})
	if calls != 1 || err != errBusy {
		t.Fatalf("%d calls, err %v; want the try's error at once", calls, err)
	}
	// Done during a wait: *Interrupted with the context's and the try's errors.
	ctx, cancel = context.WithCancel(context.Background())
	calls = 0
	err = Retry(ctx, Policy{Attempts: 3, Backoff: time.Hour, Sleep: func(ctx context.Context, d time.Duration) error {
		cancel()
		return Sleep(ctx, d)
	}}, func(context.Context, int) (bool, error) { calls++; return true, errBusy })
	var ie *Interrupted
	if calls != 1 || !errors.As(err, &ie) || ie.Last != errBusy || !errors.Is(err, context.Canceled) {
		t.Fatalf("%d calls, err %v", calls, err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := Sleep(ctx2, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a done context: %v", err)
	}
	if err := Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0): %v", err)
	}
}
