// Package ratelimit is dnsward's userspace per-client limiter: a token bucket
// per client prefix with allow and deny lists and TC=1 slip, the same
// semantics as the XDP filter (package xdp), and dnsward's one connection
// admission (Conns): open connections per prefix and in all, every
// connection transport together. The query limiter runs for UDP when XDP is
// not attached and always for TCP, DoT, DoH and DoQ. Limits are per node.
package ratelimit

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/prometheus/client_golang/prometheus"
)

// Decision is what to do with one query.
type Decision uint8

// The decisions. Stream transports treat Slip as Drop (REFUSED, HTTP 429,
// DOQ_EXCESSIVE_LOAD); UDP answers it with an empty TC=1 reply.
const (
	Pass Decision = iota
	Drop
	Slip
)

// String returns "pass", "drop" or "slip".
func (d Decision) String() string {
	switch d {
	case Pass:
		return "pass"
	case Slip:
		return "slip"
	}
	return "drop"
}

// DefaultTableSize is the default bound on tracked client prefixes.
const DefaultTableSize = 1 << 17

// Config configures a Limiter.
type Config struct {
	Limits    Limits
	TableSize int                   // client prefixes tracked at most; 0 means DefaultTableSize
	Logger    *slog.Logger          // nil: slog.Default()
	Metrics   prometheus.Registerer // nil: metrics are not registered
}

// Limiter enforces Limits in userspace. It is safe for concurrent use.
type Limiter struct {
	state   atomic.Pointer[state]
	table   *table
	epoch   time.Time
	now     func() uint64 // ns since epoch; replaced in tests
	log     *slog.Logger
	metrics *metrics
}

// state is what Update swaps in.
type state struct {
	limits Limits
	rates  rates
	lists  lists
}

func newState(l Limits) *state {
	return &state{limits: l, rates: newRates(l), lists: newLists(l)}
}

// New validates cfg and returns a Limiter.
func New(cfg Config) (*Limiter, error) {
	lim, err := cfg.Limits.Normalize()
	if cfg.TableSize < 0 {
		err = errors.Join(err, errors.New("rate_limit.table_size: must be >= 0"))
	}
	if err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	if cfg.TableSize == 0 {
		cfg.TableSize = DefaultTableSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &Limiter{
		table: newTable(cfg.TableSize),
		epoch: time.Now(),
		log:   cfg.Logger,
	}
	l.now = func() uint64 { return uint64(time.Since(l.epoch)) }
	l.state.Store(newState(lim))
	if l.metrics, err = newMetrics(cfg.Metrics, l); err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	return l, nil
}

// Update swaps in new limits (on reload); buckets keep their state.
func (l *Limiter) Update(lim Limits) error {
	lim, err := lim.Normalize()
	if err != nil {
		return fmt.Errorf("ratelimit: %w", err)
	}
	l.state.Store(newState(lim))
	l.log.Info("ratelimit: limits updated", "qps", lim.QPS, "burst", lim.Burst, "slip", lim.Slip,
		"allow", len(lim.Allow), "deny", len(lim.Deny))
	return nil
}

// Limits returns the limits in force, normalized.
func (l *Limiter) Limits() Limits { return l.state.Load().limits }

// Allow charges one query from addr and returns what to do with it. Metrics
// count it under transport "any"; listeners should call AllowVia.
func (l *Limiter) Allow(addr netip.Addr) Decision { return l.AllowVia(0, addr) }

// AllowVia is Allow for a query that arrived on transport t.
func (l *Limiter) AllowVia(t transport.Kind, addr netip.Addr) Decision {
	st := l.state.Load()
	addr = addr.Unmap()
	switch st.lists.check(addr) {
	case listDeny:
		l.metrics.decide(t, outcomeDenied)
		return Drop
	case listAllow:
		l.metrics.decide(t, outcomeAllowlisted)
		return Pass
	}
	k := keyOf(addr, st.limits.IPv4Prefix, st.limits.IPv6Prefix)
	d, evicted := l.table.take(k, st.rates, l.now())
	if evicted {
		l.metrics.evictions.Inc()
	}
	l.metrics.decide(t, outcomeOf(d))
	return d
}

// Admit charges one query from addr on transport t and says whether it may
// be answered (resolver.Admitter): a slip is a refusal on every transport
// but UDP, which is charged with AllowVia at the socket instead.
func (l *Limiter) Admit(t transport.Kind, addr netip.Addr) bool { return l.AllowVia(t, addr) == Pass }

// TopLimited returns up to n client prefixes with the most excess queries
// among those tracked now, most first.
func (l *Limiter) TopLimited(n int) []Limited {
	st := l.state.Load()
	var all []Limited
	l.table.each(func(k key, b bucket) {
		if b.excess > 0 {
			all = append(all, Limited{Prefix: k.prefix(st.limits.IPv4Prefix, st.limits.IPv6Prefix), Excess: uint64(b.excess)})
		}
	})
	return Top(all, n)
}
