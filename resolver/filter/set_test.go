package filter

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/dnsward/dnsward/bench/listgen/names"
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

// TestSetAgainstModel compares sets, built from enough names to span
// several chunks, runs and pages, with a map-based suffix walk: names of
// many small partitions and single labels, and names crowded into
// partitions that span about a hundred or thousands of blocks.
func TestSetAgainstModel(t *testing.T) {
	labels := []string{"a", "b", "ads", "cdn", "x-1", "tracker", "img", "com", "net", "org", "io"}
	label := func(r *rand.Rand) string { return labels[r.IntN(len(labels))] + fmt.Sprint(r.IntN(400)) }
	labelsOf := func(r *rand.Rand, n int) []string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = label(r)
		}
		return parts
	}
	tests := []struct {
		name     string
		randName func(r *rand.Rand) string
	}{
		{"varied", func(r *rand.Rand) string {
			if r.IntN(1000) == 0 {
				return label(r) // a top-level name, rare: a subtree entry covers a lot
			}
			return strings.Join(labelsOf(r, 2+r.IntN(3)), ".")
		}},
		{"crowded", func(r *rand.Rand) string {
			inner := append(labelsOf(r, r.IntN(3)), fmt.Sprint("n", r.IntN(1e6)))
			part := []string{"cdn.net", "img.org"}[r.IntN(2)] // thousands of blocks
			if r.IntN(2) == 0 {
				part = fmt.Sprint("s", r.IntN(100), ".org") // about a hundred blocks
			}
			return strings.Join(append(inner, part), ".")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			model := map[string]map[Scope]bool{}
			var b Builder
			for range 300000 {
				n, scope := tt.randName(r), ScopeSubtree
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
			hits := 0
			for range 200000 {
				q := tt.randName(r)
				got, want := s.Contains(q), matches(q)
				if got != want {
					t.Fatalf("Contains(%q) = %v, want %v", q, got, want)
				}
				hits += boolInt(got)
			}
			t.Logf("%d entries, %d blocks, %d long partitions, %d hits", s.Len(), len(s.blocks), len(s.long), hits)
			if hits < 1000 || hits > 199000 {
				t.Errorf("%d hits of 200000 queries: the test does not exercise both outcomes", hits)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestSetFingerprintCollision hands search another partition's slot, as a
// fingerprint collision does: it must stop there, not walk on through the
// following partitions (which would find x.b.example after a.example).
func TestSetFingerprintCollision(t *testing.T) {
	s := buildSet(t, "a.example", "x.b.example")
	slotOf := func(name string) ([]byte, []byte, uint32) {
		k, _ := appendKey(nil, name, ScopeExact)
		p := partition(k)
		i, want := s.slotOf(maphash.Bytes(s.seed, p))
		for {
			if fp, at := s.slot(i); fp == want {
				return k, p, at
			}
			i = (i + 1) % s.nslots
		}
	}
	ka, pa, slotA := slotOf("a.example")
	kb, pb, slotB := slotOf("x.b.example")
	if _, ok := s.search(ka, pa, slotA); !ok {
		t.Fatal("a.example not found through its own slot")
	}
	if _, ok := s.search(kb, pb, slotA); ok {
		t.Error("x.b.example found through a.example's slot")
	}
	if _, ok := s.search(ka, pa, slotB); ok {
		t.Error("a.example found through b.example's slot")
	}
}

// TestSetBytesPerName holds the set to its memory budget, 30 bytes a name,
// for generated list names and for the worst case, names that share no
// partition (every registrable domain distinct).
func TestSetBytesPerName(t *testing.T) {
	const n = 200000
	r := rand.New(rand.NewPCG(3, 4))
	g := names.New(1)
	tests := []struct {
		name string
		next func() string
	}{
		{"generated", g.Next},
		{"distinct", func() string {
			b := make([]byte, 7+r.IntN(10))
			for i := range b {
				b[i] = byte('a' + r.IntN(26))
			}
			return string(b) + []string{".com", ".net", ".xyz", ".top", ".ru"}[r.IntN(5)]
		}},
	}
	for _, tt := range tests {
		var b Builder
		for range n {
			b.Add(tt.next(), ScopeSubtree)
		}
		s := b.Build()
		if per := float64(s.Bytes()) / n; per > 30 {
			t.Errorf("%s: %.1f bytes a name, want ≤ 30", tt.name, per)
		} else {
			t.Logf("%s: %.1f bytes a name", tt.name, per)
		}
	}
}
