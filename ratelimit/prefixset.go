package ratelimit

import (
	"net/netip"
	"slices"
)

// prefixSet answers longest-prefix-match queries over a fixed list: one map
// probe per distinct prefix length, longest first.
type prefixSet struct {
	set  map[netip.Prefix]struct{}
	lens [2][]int // distinct lengths, longest first: [0] IPv4, [1] IPv6
}

func newPrefixSet(ps []netip.Prefix) prefixSet {
	s := prefixSet{set: make(map[netip.Prefix]struct{}, len(ps))}
	for _, p := range ps {
		s.set[p] = struct{}{}
		f := family(p.Addr())
		if !slices.Contains(s.lens[f], p.Bits()) {
			s.lens[f] = append(s.lens[f], p.Bits())
		}
	}
	for _, l := range s.lens {
		slices.SortFunc(l, func(a, b int) int { return b - a })
	}
	return s
}

func family(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

// match returns the length of the longest prefix containing a (an unmapped
// address), or -1.
func (s prefixSet) match(a netip.Addr) int {
	for _, bits := range s.lens[family(a)] {
		p, _ := a.Prefix(bits)
		if _, ok := s.set[p]; ok {
			return bits
		}
	}
	return -1
}

// verdict is what the allow and deny lists say about an address.
type verdict uint8

const (
	listNone verdict = iota
	listAllow
	listDeny
)

// lists are the allow and deny prefix lists.
type lists struct{ allow, deny prefixSet }

func newLists(l Limits) lists {
	return lists{allow: newPrefixSet(l.Allow), deny: newPrefixSet(l.Deny)}
}

// check applies the rule shared with the XDP program: the longest match wins
// and deny wins a tie.
func (ls lists) check(a netip.Addr) verdict {
	allow, deny := ls.allow.match(a), ls.deny.match(a)
	switch {
	case deny >= 0 && deny >= allow:
		return listDeny
	case allow >= 0:
		return listAllow
	}
	return listNone
}
