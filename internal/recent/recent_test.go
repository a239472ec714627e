package recent

import (
	"sync"
	"testing"
)

// TestMapBounded: the oldest key goes first; a key put again keeps its
// first value and its place; nil and max 0 remember nothing.
func TestMapBounded(t *testing.T) {
	m := New[string, int](2)
	m.Put("a", 1)
	m.Put("b", 2)
	m.Put("a", 3)
	m.Put("c", 4)
	if m.Has("a") {
		t.Error("a is remembered after two newer keys in a map of 2")
	}
	if v, ok := m.Get("b"); !ok || v != 2 {
		t.Errorf("b = %d, %v; want 2", v, ok)
	}
	if v, ok := m.Get("c"); !ok || v != 4 {
		t.Errorf("c = %d, %v; want 4", v, ok)
	}
	m.Put("b", 5)
	if v, _ := m.Get("b"); v != 2 {
		t.Errorf("b put again = %d, want its first value 2", v)
	}
	var none *Map[string, int]
	none.Put("a", 1)
	zero := New[string, int](0)
	zero.Put("a", 1)
	var noSet *Set[string]
	noSet.Add("a")
	if none.Has("a") || zero.Has("a") || noSet.Has("a") {
		t.Error("a nil map or set, or one of max 0, remembered a key")
	}
	s := NewSet[string](2)
	s.Add("a")
	s.Add("b")
	s.Add("a")
	s.Add("c")
	if s.Has("a") || !s.Has("b") || !s.Has("c") {
		t.Error("set: want b and c")
	}
}

// TestMapKeepsTheNewest: after many keys, exactly the newest max are
// remembered, however many were forgotten before them.
func TestMapKeepsTheNewest(t *testing.T) {
	const max, n = 3, 100
	m := New[int, int](max)
	for i := range n {
		m.Put(i, i)
	}
	for i := range n {
		if got, want := m.Has(i), i >= n-max; got != want {
			t.Errorf("Has(%d) = %v, want %v", i, got, want)
		}
	}
	if len(m.vals) != max || len(m.order) != max {
		t.Errorf("%d values and %d in order, want %d", len(m.vals), len(m.order), max)
	}
}

// TestMapConcurrent: Put, Get and Has from many goroutines (go test -race).
func TestMapConcurrent(t *testing.T) {
	m := New[int, int](8)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				m.Put(g*1000+i, i)
				m.Get(i)
				m.Has(g*1000 + i - 1)
			}
		})
	}
	wg.Wait()
	if len(m.order) != 8 {
		t.Errorf("%d keys remembered, want 8", len(m.order))
	}
}
