package ratelimit

import (
	"errors"
	"fmt"
	"net/netip"
)

// Limits are the per-client limits (gateway/config's `rate_limit:` block),
// shared by the userspace Limiter, the connection admission (Conns) and the
// XDP filter so all enforce the same semantics. Errors name the config key.
type Limits struct {
	QPS        uint32         // queries per second per client prefix; required by the Limiter
	Burst      uint32         // bucket size in queries; required by the Limiter
	IPv4Prefix int            // bits of an IPv4 client that share a bucket; 0 means 32
	IPv6Prefix int            // bits of an IPv6 client that share a bucket; 0 means 64
	Slip       int            // answer every Slip-th excess UDP query with TC=1; 0: drop all
	Allow      []netip.Prefix // never limited
	Deny       []netip.Prefix // always dropped; the longest match of both lists wins, deny on a tie
	// MaxConns bounds open connections per client prefix, every transport
	// together (Conns); 0: unbounded. XDP ignores it.
	MaxConns int
	// MaxConnsTotal bounds open client connections on the node (Conns); 0:
	// unbounded.
	MaxConnsTotal int
}

// MaxSlip is the largest accepted Limits.Slip.
const MaxSlip = 1000

// Normalize validates l and returns it with defaults filled in and the
// prefix lists masked. Errors name the config key, e.g.
// "rate_limit.qps: must be > 0".
func (l Limits) Normalize() (Limits, error) {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("rate_limit.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if l.QPS == 0 {
		bad("qps", "must be > 0")
	}
	if l.Burst == 0 {
		bad("burst", "must be > 0")
	}
	if l.Slip < 0 || l.Slip > MaxSlip {
		bad("slip", "%d is not in 0..%d", l.Slip, MaxSlip)
	}
	l, err := l.NormalizeConns()
	return l, errors.Join(append(errs, err)...)
}

// NormalizeConns is Normalize for the connection admission (Conns) alone:
// prefix lengths, lists and the connection bounds; the query rates may be
// zero.
func (l Limits) NormalizeConns() (Limits, error) {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("rate_limit.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if l.IPv4Prefix == 0 {
		l.IPv4Prefix = 32
	}
	if l.IPv6Prefix == 0 {
		l.IPv6Prefix = 64
	}
	if l.IPv4Prefix < 1 || l.IPv4Prefix > 32 {
		bad("ipv4_prefix", "%d is not in 1..32", l.IPv4Prefix)
	}
	if l.IPv6Prefix < 1 || l.IPv6Prefix > 128 {
		bad("ipv6_prefix", "%d is not in 1..128", l.IPv6Prefix)
	}
	if l.MaxConns < 0 {
		bad("max_conns_per_prefix", "%v", errNegative)
	}
	if l.MaxConnsTotal < 0 {
		bad("max_conns", "%v", errNegative)
	}
	var err error
	if l.Allow, err = maskAll("allow", l.Allow); err != nil {
		errs = append(errs, err)
	}
	if l.Deny, err = maskAll("deny", l.Deny); err != nil {
		errs = append(errs, err)
	}
	return l, errors.Join(errs...)
}

func maskAll(key string, ps []netip.Prefix) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ps))
	for i, p := range ps {
		switch {
		case !p.IsValid():
			return nil, fmt.Errorf("rate_limit.%s[%d]: not a valid prefix", key, i)
		case p.Addr().Is4In6():
			return nil, fmt.Errorf("rate_limit.%s[%d]: %s: write IPv4-mapped prefixes in IPv4 form", key, i, p)
		case p.Addr().Zone() != "":
			return nil, fmt.Errorf("rate_limit.%s[%d]: %s: zones are not allowed", key, i, p)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
