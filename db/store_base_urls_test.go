package db_test

import (
	"context"
	"testing"
	"time"
)

func TestRecordBaseURLTellsOfAnotherInstancesBaseURL(t *testing.T) {
	a, b, clk := twoProcesses(t)
	ctx := context.Background()
	others, err := a.RecordBaseURL(ctx, "https://shop.example", time.Hour)
	if err != nil || len(others) != 0 {
		t.Fatalf("first start: %v, %v; want nothing to tell", others, err)
	}
	clk.Advance(time.Minute)
	// A second instance with the same base URL: nothing to tell.
	if others, err := b.RecordBaseURL(ctx, "https://shop.example", time.Hour); err != nil || len(others) != 0 {
		t.Fatalf("same base URL: %v, %v", others, err)
	}
	// One with its own address instead: it hears of the shared one.
	clk.Advance(time.Minute)
	others, err = b.RecordBaseURL(ctx, "http://localhost:8083", time.Hour)
	if err != nil || len(others) != 1 || others[0].BaseURL != "https://shop.example" || !others[0].StartedAt.Equal(clk.Now().Add(-time.Minute)) {
		t.Fatalf("another base URL: %+v, %v", others, err)
	}
	// Starts older than the window are not told of.
	clk.Advance(2 * time.Hour)
	if others, err := a.RecordBaseURL(ctx, "https://shop.example", time.Hour); err != nil || len(others) != 0 {
		t.Fatalf("after the window: %v, %v", others, err)
	}
}
