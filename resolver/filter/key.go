package filter

// Keys are names with their labels reversed, each label followed by '.':
// "ads.example.com" → "com.example.ads.". A wildcard entry ("*.example.com",
// the subtree only) ends with wildcardMark instead: "com.example.\x01". Byte
// order of keys puts every name right after its parent, so "k is a byte
// prefix of q" means "k's name is q's name or a parent of it".
const wildcardMark = 0x01

// appendKey appends the key of name to dst. Upper-case ASCII is folded and a
// trailing dot ignored. It returns false for names no set can hold (empty,
// too long, empty labels, escapes).
func appendKey(dst []byte, name string, wildcard bool) ([]byte, bool) {
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
	if wildcard {
		dst = append(dst, wildcardMark)
	}
	return dst, true
}

// covers reports whether the entry with key k matches every name whose key
// is x (k is x itself, a parent, or a wildcard over it).
func covers(k, x []byte) bool {
	if n := len(k); n > 0 && k[n-1] == wildcardMark {
		stem := k[:n-1]
		return len(x) > len(stem) && string(x[:len(stem)]) == string(stem)
	}
	return len(x) >= len(k) && string(x[:len(k)]) == string(k)
}
