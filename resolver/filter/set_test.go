package filter

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// buildSet builds a set of names: "*.x" for the names below x, "=x" for x
// only, any other name for itself and its subtree.
func buildSet(t testing.TB, names ...string) *Set {
	t.Helper()
	var b Builder
	for _, n := range names {
		plain := ScopeSubtree
		if rest, ok := strings.CutPrefix(n, "="); ok {
			n, plain = rest, ScopeExact
		}
		name, wild, err := NormalizeName(n)
		if err != nil {
			t.Fatalf("NormalizeName(%q): %v", n, err)
		}
		if !b.Add(name, wildScope(wild, plain)) {
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

// TestSetExact checks exact entries (RPZ owners) beside subtree and
// wildcard ones: an exact entry matches its name only, its wildcard twin
// adds the names below, and a subtree entry makes both redundant.
func TestSetExact(t *testing.T) {
	s := buildSet(t, "=adult.example", "=both.example", "*.both.example", "=www.sub.example", "sub.example",
		"=a.b.c.example", "*.b.c.example", "=z.example", "=z.example", "=x.cdn.example", "cdn.example.org",
		"=deep.cdn.example.org", "=com")
	tests := []struct {
		name string
		want bool
	}{
		{"adult.example", true},
		{"ADULT.example.", true},
		{"www.adult.example", false}, // exact: not the subtree
		{"example", false},
		{"both.example", true},
		{"www.both.example", true},
		{"a.b.both.example", true},
		{"sub.example", true},
		{"www.sub.example", true},
		{"x.www.sub.example", true}, // covered by sub.example
		{"a.b.c.example", true},     // exact and below *.b.c.example
		{"b.c.example", false},
		{"q.b.c.example", true},
		{"z.example", true},
		{"y.z.example", false},
		{"x.cdn.example", true},
		{"y.x.cdn.example", false},
		{"cdn.example", false},
		{"deep.cdn.example.org", true},
		{"com", true},
		{"example.com", false},
	}
	for _, tt := range tests {
		if got := s.Contains(tt.name); got != tt.want {
			t.Errorf("Contains(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	// Covered, so dropped: =www.sub.example and =deep.cdn.example.org (by a
	// subtree entry), =a.b.c.example (by *.b.c.example), the second =z.example.
	if got, want := s.Len(), 9; got != want {
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
	model := map[string]map[Scope]bool{}
	var b Builder
	for range 300000 {
		n, scope := randName(), ScopeSubtree
		switch r.IntN(10) {
		case 0:
			scope = ScopeBelow
		case 1, 2:
			scope = ScopeExact
		}
		b.Add(n, scope)
		if model[n] == nil {
			model[n] = map[Scope]bool{}
		}
		model[n][scope] = true
	}
	if len(b.runs) < 1 { // plus the chunk Build flushes
		t.Fatalf("test too small: %d runs", len(b.runs))
	}
	s := b.Build()
	matches := func(q string) bool {
		if m := model[q]; m[ScopeSubtree] || m[ScopeExact] {
			return true
		}
		for i := 0; i < len(q); i++ {
			if m := model[q[i+1:]]; q[i] == '.' && (m[ScopeSubtree] || m[ScopeBelow]) {
				return true
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
