// Package keyedmutex is a mutex per key (an order id, say), kept only while
// someone holds or waits for it, so the map does not grow with every key
// ever locked.
//
// It serialises work inside one process; across processes the database's
// compare-and-swap decides. (golang.org/x/sync has singleflight, which merges
// callers into one call, but no lock per key: here every caller must run, one
// after the other.)
package keyedmutex

import "sync"

// Map locks by key. The zero value is ready to use.
type Map[K comparable] struct {
	mu sync.Mutex
	m  map[K]*entry
}

type entry struct {
	sync.Mutex
	users int // holders and waiters; the entry goes when it drops to 0
}

// Lock locks key's mutex and returns its unlock.
func (l *Map[K]) Lock(key K) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[K]*entry{}
	}
	e := l.m[key]
	if e == nil {
		e = &entry{}
		l.m[key] = e
	}
	e.users++
	l.mu.Unlock()
	e.Lock()
	return func() {
		e.Unlock()
		l.mu.Lock()
		if e.users--; e.users == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
}

// Len is how many keys have an entry: those held or waited for.
func (l *Map[K]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
