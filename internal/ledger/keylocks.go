package ledger

import (
	"context"
	"sync"
)

// keyLocks is a set of per-key mutexes whose waits honour a context; a
// key's entry lives only while someone holds or waits for it.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	held chan struct{} // capacity 1: full while held
	refs int           // holders and waiters, guarded by keyLocks.mu
}

// lock waits until key is free or ctx is done and returns the unlock func.
func (l *keyLocks) lock(ctx context.Context, key string) (func(), error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = make(map[string]*keyLock)
	}
	k := l.m[key]
	if k == nil {
		k = &keyLock{held: make(chan struct{}, 1)}
		l.m[key] = k
	}
	k.refs++
	l.mu.Unlock()
	release := func() {
		l.mu.Lock()
		if k.refs--; k.refs == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
	select {
	case k.held <- struct{}{}:
		return func() { <-k.held; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
