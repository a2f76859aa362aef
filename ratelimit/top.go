package ratelimit

import (
	"cmp"
	"net/netip"
	"slices"
)

// Limited is a client prefix that went over its limit.
type Limited struct {
	Prefix netip.Prefix
	Excess uint64 // queries over the limit while the prefix was tracked
}

// Top sorts all by Excess, most first (ties by prefix), and keeps n.
func Top(all []Limited, n int) []Limited {
	slices.SortFunc(all, func(a, b Limited) int {
		if c := cmp.Compare(b.Excess, a.Excess); c != 0 {
			return c
		}
		return a.Prefix.Addr().Compare(b.Prefix.Addr())
	})
	if n >= 0 && len(all) > n {
		all = all[:n]
	}
	return all
}
