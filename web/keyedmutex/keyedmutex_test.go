package keyedmutex

import (
	"sync"
	"testing"
)

// The locks exclude each other per key and leave nothing behind.
func TestLocksExcludeAndArePruned(t *testing.T) {
	var l Map[int64]
	var wg sync.WaitGroup
	var inside [4]int // inside[id] is guarded by id's lock; the race detector checks it
	for i := range 200 {
		id := int64(i % 4)
		wg.Go(func() {
			unlock := l.Lock(id)
			defer unlock()
			inside[id]++
			if inside[id] != 1 {
				t.Errorf("two holders of key %d's lock", id)
			}
			inside[id]--
		})
	}
	wg.Wait()
	if n := l.Len(); n != 0 {
		t.Errorf("%d locks left after every holder let go", n)
	}
}
