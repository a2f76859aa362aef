package filter

import (
	"errors"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// maxNameLen is the longest domain name in presentation form without the
// trailing dot (RFC 1035: 255 octets on the wire).
const maxNameLen = 253

var (
	errEmptyName   = errors.New("empty name")
	errNameIsIP    = errors.New("an IP address, not a name")
	errNameTooLong = errors.New("name too long")
	errBadLabel    = errors.New("bad label")
	errBadChar     = errors.New("character not allowed in a domain name")
)

// NormalizeName turns a list entry into the form the sets store: lower-case,
// no trailing dot, Unicode converted to A-labels. A leading "*." marks a
// wildcard (the subtree below the name, not the name itself); it is removed
// from the returned name and reported in wildcard.
func NormalizeName(s string) (name string, wildcard bool, err error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), ".")
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		s, wildcard = rest, true
	}
	if s == "" {
		return "", false, errEmptyName
	}
	if _, err := parseIP(s); err == nil {
		return "", false, errNameIsIP
	}
	if !isASCII(s) {
		a, err := idna.Lookup.ToASCII(s)
		if err != nil {
			return "", false, err
		}
		s = a
	}
	s = strings.ToLower(s)
	if len(s) > maxNameLen {
		return "", false, errNameTooLong
	}
	if err := checkLabels(s); err != nil {
		return "", false, err
	}
	return s, wildcard, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// checkLabels accepts letters, digits, '-' and '_' in labels of 1–63 octets.
func checkLabels(s string) error {
	n := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if n == 0 || n > 63 {
				return errBadLabel
			}
			n = 0
			continue
		}
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return errBadChar
		}
		n++
	}
	return nil
}

// errNotIP spares netip.ParseAddr, whose errors allocate, the names that
// cannot be addresses: most of a list's lines.
var errNotIP = errors.New("not an IP address")

// parseIP is netip.ParseAddr for strings that may be addresses: only hex
// digits, dots and colons (and a zone after '%'), with a dot or a colon.
func parseIP(s string) (netip.Addr, error) {
	head, _, _ := strings.Cut(s, "%")
	if !strings.ContainsAny(head, ".:") || strings.IndexFunc(head, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F' || r == '.' || r == ':')
	}) >= 0 {
		return netip.Addr{}, errNotIP
	}
	return netip.ParseAddr(s)
}
