package filter

import (
	"testing"
)

func TestAppendKey(t *testing.T) {
	tests := []struct {
		name  string
		scope Scope
		want  string // "" for refused
	}{
		{"ads.example.com", ScopeSubtree, "com.example.ads."},
		{"Ads.EXAMPLE.com.", ScopeExact, "com.example.ads.\x00"},
		{"example.com", ScopeBelow, "com.example.\x01"},
		{"com", ScopeSubtree, "com."},
		{"ÄB.example", ScopeSubtree, "example.Äb."}, // only ASCII folds
		{"a-much-longer-label-with-UPPER.and.MORE.labels.example", ScopeSubtree,
			"example.labels.more.and.a-much-longer-label-with-upper."},
		{"", ScopeSubtree, ""},
		{".", ScopeSubtree, ""},
		{"a..b", ScopeSubtree, ""},
		{".a", ScopeSubtree, ""},
		{"a.", ScopeSubtree, "a."},
		{"a\\.b", ScopeSubtree, ""},
	}
	for _, tt := range tests {
		got, ok := appendKey([]byte("pre"), tt.name, tt.scope)
		if want := "pre" + tt.want; string(got) != want || ok != (tt.want != "") {
			t.Errorf("appendKey(%q, %d) = %q, %v; want %q", tt.name, tt.scope, got, ok, want)
		}
	}
}

// TestLowerASCII checks every byte value at every position of a word.
func TestLowerASCII(t *testing.T) {
	for c := range 256 {
		for pos := range 11 {
			b := []byte("xYz0-_.AbCq")
			b[pos] = byte(c)
			want := make([]byte, len(b))
			for i, x := range b {
				if 'A' <= x && x <= 'Z' {
					x += 'a' - 'A'
				}
				want[i] = x
			}
			lowerASCII(b)
			if string(b) != string(want) {
				t.Fatalf("lowerASCII with %#x at %d = %q, want %q", c, pos, b, want)
			}
		}
	}
}

func TestCommonPrefix(t *testing.T) {
	long := "com.example.tracker.ads."
	for i := 0; i <= len(long); i++ {
		b := []byte(long)
		if i < len(b) {
			b[i] ^= 0x20
		}
		if got := commonPrefix([]byte(long), b); got != i {
			t.Errorf("commonPrefix with a difference at %d = %d", i, got)
		}
		if got := commonPrefix([]byte(long[:i]), []byte(long)); got != i {
			t.Errorf("commonPrefix of a %d-byte prefix = %d", i, got)
		}
	}
}
