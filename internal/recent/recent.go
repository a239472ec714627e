// Package recent owns a bounded memory of recently seen keys: the newest
// max keys, each with the value it was first put with, the oldest
// forgotten first. The bridge's forwarded message ids and insufficient-role
// decisions, the keeper's reset runs and the tool activity's described
// callers use it. It must not import anything of the project.
package recent

import "sync"

// Map remembers up to max keys with a value each. Safe for concurrent use.
// A nil *Map, or one made with max <= 0, remembers nothing.
type Map[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	vals  map[K]V
	order []K // oldest first
}

// New returns a Map that remembers up to max keys.
func New[K comparable, V any](max int) *Map[K, V] {
	return &Map[K, V]{max: max, vals: map[K]V{}}
}

// Get returns k's value, and whether k is remembered.
func (m *Map[K, V]) Get(k K) (V, bool) {
	if m == nil {
		var zero V
		return zero, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.vals[k]
	return v, ok
}

// Has reports whether k is remembered.
func (m *Map[K, V]) Has(k K) bool {
	_, ok := m.Get(k)
	return ok
}

// Put remembers k with v, forgetting the oldest key when max are
// remembered. A key remembered already keeps its value and its place.
func (m *Map[K, V]) Put(k K, v V) {
	if m == nil || m.max <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.vals[k]; ok {
		return
	}
	if len(m.order) >= m.max {
		delete(m.vals, m.order[0])
		m.order = m.order[1:]
	}
	m.order = append(m.order, k)
	m.vals[k] = v
}

// Set is a Map of keys alone. A nil *Set remembers nothing.
type Set[K comparable] struct{ m Map[K, struct{}] }

// NewSet returns a Set that remembers up to max keys.
func NewSet[K comparable](max int) *Set[K] {
	return &Set[K]{m: Map[K, struct{}]{max: max, vals: map[K]struct{}{}}}
}

// Has reports whether k is remembered.
func (s *Set[K]) Has(k K) bool { return s != nil && s.m.Has(k) }

// Add remembers k (see Map.Put).
func (s *Set[K]) Add(k K) {
	if s != nil {
		s.m.Put(k, struct{}{})
	}
}
