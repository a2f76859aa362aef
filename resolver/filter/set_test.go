package filter

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func buildSet(t testing.TB, names ...string) *Set {
	t.Helper()
	var b Builder
	for _, n := range names {
		name, wild, err := NormalizeName(n)
		if err != nil {
			t.Fatalf("NormalizeName(%q): %v", n, err)
		}
		if !b.Add(name, wild) {
			t.Fatalf("Add(%q) refused", name)
		}
	}
	return b.Build()
}

func TestSetSemantics(t *testing.T) {
	s := buildSet(t, "example.com", "ads.example.com", "deep.sub.example.com", "*.wild.org", "exact.net",
		"Tracker.IO", "a-b.com", "münchen.de", "*.x.wild.org", "exact.net", "b.co")
	tests := []struct {
		name string
		want bool
	}{
		{"example.com", true},
		{"EXAMPLE.COM.", true},
		{"ads.example.com", true},
		{"x.y.z.example.com", true},
		{"example.co", false},
		{"notexample.com", false},
		{"com", false},
		{"wild.org", false}, // a wildcard covers the subtree only
		{"a.wild.org", true},
		{"b.x.wild.org", true},
		{"exact.net", true},
		{"www.exact.net", true},
		{"tracker.io", true},
		{"a-b.com", true},
		{"a.com", false},
		{"b.com", false},
		{"xn--mnchen-3ya.de", true},
		{"co", false},
		{"a.b.co", true},
		{"", false},
		{"bad..name", false},
	}
	for _, tt := range tests {
		if got := s.Contains(tt.name); got != tt.want {
			t.Errorf("Contains(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	// example.com covers ads.* and deep.*; *.x.wild.org is covered by *.wild.org; exact.net twice: 7 remain.
	if got, want := s.Len(), 7; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
}

func TestSetMatchDepth(t *testing.T) {
	s := buildSet(t, "example.com", "*.other.org")
	if d, ok := s.Match("a.b.example.com"); !ok || d != 2 {
		t.Errorf("Match = %d, %v; want 2, true", d, ok)
	}
	if d, ok := s.Match("x.other.org"); !ok || d != 2 {
		t.Errorf("Match = %d, %v; want 2, true", d, ok)
	}
}

func TestNilAndEmptySet(t *testing.T) {
	var s *Set
	if s.Contains("example.com") || s.Len() != 0 || s.Bytes() != 0 {
		t.Error("nil set is not empty")
	}
	var b Builder
	if e := b.Build(); e.Contains("example.com") || e.Len() != 0 {
		t.Error("built empty set is not empty")
	}
}

// TestSetAgainstModel compares the set, built from enough names to span
// several chunks, runs and pages, with a map-based suffix walk.
func TestSetAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	labels := []string{"a", "b", "ads", "cdn", "x-1", "tracker", "img", "com", "net", "org", "io"}
	randName := func() string {
		n := 1 + r.IntN(4)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = labels[r.IntN(len(labels))] + fmt.Sprint(r.IntN(40))
		}
		return strings.Join(parts, ".")
	}
	model := map[string]bool{} // name → wildcard
	var b Builder
	for range 300000 {
		n, wild := randName(), r.IntN(10) == 0
		b.Add(n, wild)
		if old, ok := model[n]; !ok || old {
			model[n] = wild
		}
	}
	if len(b.runs) < 1 { // plus the chunk Build flushes
		t.Fatalf("test too small: %d runs", len(b.runs))
	}
	s := b.Build()
	matches := func(q string) bool {
		if wild, ok := model[q]; ok && !wild {
			return true
		}
		for i := 0; i < len(q); i++ {
			if q[i] == '.' {
				if _, ok := model[q[i+1:]]; ok {
					return true
				}
			}
		}
		return false
	}
	for range 200000 {
		q := randName()
		if got, want := s.Contains(q), matches(q); got != want {
			t.Fatalf("Contains(%q) = %v, want %v", q, got, want)
		}
	}
}
