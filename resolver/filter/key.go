package filter

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
// folded and a trailing dot ignored. It returns false for names no set can
// hold (empty, too long, empty labels, escapes).
func appendKey(dst []byte, name string, scope Scope) ([]byte, bool) {
	if n := len(name); n > 0 && name[n-1] == '.' {
		name = name[:n-1]
	}
	if name == "" || len(name) > maxNameLen {
		return dst, false
	}
	end := len(name)
	for i := len(name) - 1; i >= -1; i-- {
		if i >= 0 && name[i] != '.' {
			if name[i] == '\\' {
				return dst, false
			}
			continue
		}
		if i+1 == end {
			return dst, false // empty label
		}
		for j := i + 1; j < end; j++ {
			c := name[j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
		}
		dst = append(dst, '.')
		end = i
	}
	switch scope {
	case ScopeExact:
		dst = append(dst, exactMark)
	case ScopeBelow:
		dst = append(dst, belowMark)
	}
	return dst, true
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
