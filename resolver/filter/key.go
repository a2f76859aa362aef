package filter

import (
	"encoding/binary"
	"strings"
)

// Keys are names with their labels reversed, each label followed by '.':
// "ads.example.com" → "com.example.ads.". The key of a ScopeSubtree entry is
// just that; a ScopeBelow entry ("*.example.com") ends with belowMark
// ("com.example.\x01") and a ScopeExact entry with exactMark
// ("com.example.\x00"). A query is looked up by its exact key. Both marks
// sort below every name byte, so the byte order of keys puts every name
// right after its parent, and "k is a byte prefix of q" means "k's entry
// matches q's name" for subtree and exact entries alike.
const (
	exactMark = 0x00
	belowMark = 0x01
)

// appendKey appends the key of name in scope to dst. Upper-case ASCII is
// folded and a trailing dot ignored. It returns false, and dst unchanged,
// for names no set can hold (empty, too long, empty labels, escapes).
func appendKey(dst []byte, name string, scope Scope) ([]byte, bool) {
	if n := len(name); n > 0 && name[n-1] == '.' {
		name = name[:n-1]
	}
	if name == "" || len(name) > maxNameLen || strings.IndexByte(name, '\\') >= 0 {
		return dst, false
	}
	start := len(dst)
	for end := len(name); ; {
		i := strings.LastIndexByte(name[:end], '.')
		if i+1 == end {
			return dst[:start], false // empty label
		}
		dst = append(append(dst, name[i+1:end]...), '.')
		if i < 0 {
			break
		}
		end = i
	}
	lowerASCII(dst[start:])
	switch scope {
	case ScopeExact:
		dst = append(dst, exactMark)
	case ScopeBelow:
		dst = append(dst, belowMark)
	}
	return dst, true
}

// lowerASCII folds upper-case ASCII letters in b, eight bytes at a time.
func lowerASCII(b []byte) {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	for ; len(b) >= 8; b = b[8:] {
		w := binary.LittleEndian.Uint64(b)
		// In each byte below 0x80, the high bit of h+0x3f is set from 'A'
		// on and that of h+0x25 after 'Z'; no byte carries into the next.
		h := w &^ high
		upper := (h + (0x80-'A')*ones) &^ (h + (0x80-'Z'-1)*ones) &^ w & high
		binary.LittleEndian.PutUint64(b, w|upper>>2)
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

// covers reports whether the entry with key k matches every name the entry
// with key x matches (x is k, in k's subtree, or below k's wildcard).
func covers(k, x []byte) bool {
	if n := len(k); n > 0 && k[n-1] == belowMark {
		stem := k[:n-1]
		return len(x) > len(stem) && string(x[:len(stem)]) == string(stem) && x[len(stem)] != exactMark
	}
	return len(x) >= len(k) && string(x[:len(k)]) == string(k)
}
