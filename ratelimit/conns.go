package ratelimit

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/promshare"
)

// ConnsConfig configures Conns.
type ConnsConfig struct {
	// Limits supplies MaxConns, MaxConnsTotal, the prefix lengths and the
	// allow/deny lists; its query rates are not used (and may be zero).
	Limits  Limits
	Logger  *slog.Logger          // nil: slog.Default()
	Metrics prometheus.Registerer // nil: metrics are not registered
}

// Conns is dnsward's one connection admission, shared by every transport
// that holds connections (plain TCP, DoT, DoH over TCP and QUIC, DoQ): at
// most Limits.MaxConns open connections per client prefix, all transports
// together, and Limits.MaxConnsTotal on the node. Denied prefixes are
// refused; allowed ones count only against the total. It is safe for
// concurrent use; Update changes the bounds for connections still to come
// (connections already open keep their slots and are always counted).
type Conns struct {
	state   atomic.Pointer[connState]
	shards  [shardCount]connShard
	total   atomic.Int64
	log     *slog.Logger
	refused *prometheus.CounterVec
}

// connState is what Update swaps in.
type connState struct {
	limits Limits
	lists  lists
}

type connShard struct {
	mu sync.Mutex
	m  map[key]int
}

// The reasons a connection is refused, as counted in metrics.
const (
	connDenied    = "denied"     // the prefix is on the deny list
	connPerPrefix = "per_prefix" // the prefix holds MaxConns already
	connTotal     = "total"      // the node holds MaxConnsTotal already
)

// NewConns validates cfg and returns the connection admission.
func NewConns(cfg ConnsConfig) (*Conns, error) {
	lim, err := cfg.Limits.NormalizeConns()
	if err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Conns{log: cfg.Logger}
	for i := range c.shards {
		c.shards[i].m = make(map[key]int)
	}
	c.state.Store(&connState{limits: lim, lists: newLists(lim)})
	c.refused, err = promshare.Register(cfg.Metrics, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnsward_connections_refused_total",
		Help: "Connections refused at accept, by transport and reason (per_prefix, total, denied).",
	}, []string{"transport", "reason"}))
	if err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	if cfg.Metrics != nil {
		open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "dnsward_connections_open",
			Help: "Client connections open on every transport together (the count max_conns bounds).",
		}, func() float64 { return float64(c.total.Load()) })
		if err := cfg.Metrics.Register(open); err != nil {
			return nil, fmt.Errorf("ratelimit: %w", err)
		}
	}
	return c, nil
}

// Update swaps in new bounds and lists (on reload).
func (c *Conns) Update(l Limits) error {
	lim, err := l.NormalizeConns()
	if err != nil {
		return fmt.Errorf("ratelimit: %w", err)
	}
	c.state.Store(&connState{limits: lim, lists: newLists(lim)})
	c.log.Info("ratelimit: connection limits updated", "max_conns_per_prefix", lim.MaxConns, "max_conns", lim.MaxConnsTotal)
	return nil
}

// Acquire admits a new connection from client on the named transport
// ("tcp", "dot", "doh", "doq": the metrics label). When ok, release must
// be called once the connection closes (extra calls do nothing). An
// invalid client (a trusted proxy, which carries many clients) counts only
// against the total.
func (c *Conns) Acquire(transport string, client netip.Addr) (release func(), ok bool) {
	st := c.state.Load()
	client = client.Unmap()
	perPrefix := st.limits.MaxConns
	if client.IsValid() {
		switch st.lists.check(client) {
		case listDeny:
			c.refused.WithLabelValues(transport, connDenied).Inc()
			return nil, false
		case listAllow:
			perPrefix = 0
		}
	} else {
		perPrefix = 0
	}
	if n := c.total.Add(1); st.limits.MaxConnsTotal > 0 && n > int64(st.limits.MaxConnsTotal) {
		c.total.Add(-1)
		c.refused.WithLabelValues(transport, connTotal).Inc()
		return nil, false
	}
	k, counted := key{}, client.IsValid()
	if counted {
		k = keyOf(client, st.limits.IPv4Prefix, st.limits.IPv6Prefix)
		if !c.add(k, 1, perPrefix) {
			c.total.Add(-1)
			c.refused.WithLabelValues(transport, connPerPrefix).Inc()
			return nil, false
		}
	}
	var done atomic.Bool
	return func() {
		if done.CompareAndSwap(false, true) {
			if counted {
				c.add(k, -1, 0)
			}
			c.total.Add(-1)
		}
	}, true
}

// add changes k's count by delta; a positive delta fails when it would
// pass limit (0: no bound). Counts are kept even without a bound, so a
// bound set later by Update sees the connections already open.
func (c *Conns) add(k key, delta, limit int) bool {
	s := &c.shards[k.shard()]
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.m[k] + delta
	switch {
	case delta > 0 && limit > 0 && n > limit:
		return false
	case n <= 0:
		delete(s.m, k)
	default:
		s.m[k] = n
	}
	return true
}

// errNegative is what a negative connection bound is told.
var errNegative = errors.New("must be >= 0 (0: unbounded)")
