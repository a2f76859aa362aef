package upstream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/resolver"
)

// GroupConfig configures a Group.
type GroupConfig struct {
	// Upstreams are the members, at least one; their order breaks ties.
	Upstreams []resolver.Upstream
	// Backoff is how long a failed upstream rests before it is probed again;
	// it doubles with each failed probe up to MaxBackoff. Zero means one
	// second.
	Backoff time.Duration
	// MaxBackoff caps the rest, and so how long a dead upstream that came
	// back waits for its next probe. Zero means ten seconds (or Backoff if
	// longer).
	MaxBackoff time.Duration
	// Logger receives health changes; nil means slog.Default().
	Logger *slog.Logger
	// Metrics registers dnsward_upstream_healthy; nil registers none.
	Metrics prometheus.Registerer
}

// ewmaWeight is the weight of a new latency sample.
const ewmaWeight = 0.3

// deadAfter is how many consecutive failures mark an upstream dead: it is
// no longer asked, not even as a last resort, until a probe answers.
const deadAfter = 3

// errDead is the cause given for a dead upstream that was not asked.
var errDead = errors.New("not asked: down after repeated failures, probed in the background")

// Group forwards to several upstreams, tried in order of health and latency,
// failing over on error or timeout. It implements resolver.Upstream.
//
// Order for each query: upstreams whose backoff has just expired (one query
// probes each, then it rests again unless the probe succeeds), then healthy
// ones by EWMA latency (unmeasured first), then resting ones as a last resort.
// Dead ones (deadAfter consecutive failures) are only probed, in the
// background; when every upstream is dead, Exchange fails at once, so that
// the cache can serve stale answers without waiting (RFC 8767).
// A SERVFAIL answer is valid and keeps the upstream healthy, but the next
// upstream is asked once more; its answer is returned if it is not an error.
type Group struct {
	members    []*member
	backoff    time.Duration
	maxBackoff time.Duration
	log        *slog.Logger
	mu         sync.Mutex // guards the members' health fields
}

// member is one upstream and its health.
type member struct {
	u       resolver.Upstream
	m       upstreamMetrics
	ewma    time.Duration // 0 until the first answer
	fails   int           // consecutive failures
	kind    Kind          // of the last failure
	rests   int           // rests in a row: the first, then one per probe
	retryAt time.Time     // end of the current rest when fails > 0
}

// NewGroup validates cfg and returns a Group of its upstreams.
func NewGroup(cfg GroupConfig) (*Group, error) {
	if len(cfg.Upstreams) == 0 {
		return nil, errors.New("upstream group: no upstreams")
	}
	if cfg.Backoff < 0 || cfg.MaxBackoff < 0 {
		return nil, errors.New("upstream group: negative backoff")
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = time.Second
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = max(10*time.Second, cfg.Backoff)
	}
	if cfg.MaxBackoff < cfg.Backoff {
		return nil, fmt.Errorf("upstream group: max backoff %v is below backoff %v", cfg.MaxBackoff, cfg.Backoff)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m, err := newMetrics(cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("upstream group: %w", err)
	}
	g := &Group{backoff: cfg.Backoff, maxBackoff: cfg.MaxBackoff, log: cfg.Logger}
	for i, u := range cfg.Upstreams {
		if u == nil {
			return nil, fmt.Errorf("upstream group: upstream %d is nil", i)
		}
		mb := &member{u: u, m: m.forUpstream(u.String())}
		mb.m.setHealthy(true)
		g.members = append(g.members, mb)
	}
	return g, nil
}

// Exchange forwards q to the members in order until one answers. When all
// fail, or all are dead, it returns a *GroupError (see
// ErrNoReachableAuthority and ErrNetwork).
func (g *Group) Exchange(ctx context.Context, q *dns.Msg) (*dns.Msg, error) {
	order, probes := g.order(time.Now())
	for _, mb := range probes {
		go g.probe(mb, q.Copy())
	}
	if len(order) == 0 {
		return nil, g.deadError()
	}
	var errs []*Error
	var servfail *dns.Msg
	for i, mb := range order {
		start := time.Now()
		r, err := mb.u.Exchange(ctx, q)
		if err != nil {
			if errors.Is(ctx.Err(), context.Canceled) || errors.Is(err, errBadQuery) {
				return nil, fmt.Errorf("upstream group: %w", err) // not the upstream's fault
			}
			ue := memberError(mb.u, err)
			if ue.Kind != KindBusy { // a full queue says nothing of its health
				g.failed(mb, ue)
			}
			errs = append(errs, ue)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		g.answered(mb, time.Since(start))
		if r.Rcode == dns.RcodeServerFailure && servfail == nil && i < len(order)-1 {
			servfail = r
			continue
		}
		return r, nil
	}
	if servfail != nil {
		return servfail, nil
	}
	return nil, &GroupError{Errs: errs}
}

// memberError returns err as an *Error of upstream u: as is when it is one,
// summarised when u is itself a Group, classified otherwise.
func memberError(u resolver.Upstream, err error) *Error {
	var ue *Error
	var ge *GroupError
	switch {
	case errors.As(err, &ge):
		kind := KindNetwork
		if errors.Is(ge, ErrNoReachableAuthority) {
			kind = KindTimeout
		}
		return &Error{Upstream: u.String(), Kind: kind, Err: err}
	case errors.As(err, &ue):
		return ue
	}
	return &Error{Upstream: u.String(), Kind: classify(err), Err: err}
}

// order returns the members in the order to try them now, claiming the probe
// of every member whose rest has ended (its next rest is twice as long,
// unless the probe answers). Probes are returned apart, to run in the
// background, while some member is healthy (a client's query must not wait
// out a dead upstream's timeout) and always for dead members; the probes of
// members not yet dead come first in the order when none is healthy. Dead
// members are otherwise left out: an empty order means all are dead.
func (g *Group) order(now time.Time) (order, probes []*member) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var probe, healthy, resting []*member
	for _, mb := range g.members {
		switch {
		case mb.fails == 0:
			healthy = append(healthy, mb)
		case !now.Before(mb.retryAt):
			mb.rests++
			mb.retryAt = now.Add(g.rest(mb.rests))
			probe = append(probe, mb)
		case mb.fails < deadAfter:
			resting = append(resting, mb)
		}
	}
	slices.SortStableFunc(healthy, func(a, b *member) int { return cmp.Compare(a.ewma, b.ewma) })
	slices.SortStableFunc(resting, func(a, b *member) int { return a.retryAt.Compare(b.retryAt) })
	if len(healthy) > 0 {
		return slices.Concat(healthy, resting), probe
	}
	var ahead []*member
	for _, mb := range probe {
		if mb.fails < deadAfter {
			ahead = append(ahead, mb)
		} else {
			probes = append(probes, mb)
		}
	}
	return slices.Concat(ahead, resting), probes
}

// deadError is the error for a query no member was asked: all are dead.
func (g *Group) deadError() *GroupError {
	g.mu.Lock()
	defer g.mu.Unlock()
	errs := make([]*Error, len(g.members))
	for i, mb := range g.members {
		errs[i] = &Error{Upstream: mb.u.String(), Kind: mb.kind, Err: errDead}
	}
	return &GroupError{Errs: errs}
}

// probe sends a copy of a client's query to a member whose rest has ended,
// in the background, and records whether it answered. The member's own
// timeout bounds it.
func (g *Group) probe(mb *member, q *dns.Msg) {
	start := time.Now()
	if _, err := mb.u.Exchange(context.Background(), q); err != nil {
		if ue := memberError(mb.u, err); ue.Kind != KindBusy { // a full queue says nothing of its health
			g.failed(mb, ue)
		}
		return
	}
	g.answered(mb, time.Since(start))
}

// rest is the length of the n-th rest in a row.
func (g *Group) rest(n int) time.Duration {
	d := g.backoff
	for i := 1; i < n && d < g.maxBackoff; i++ {
		d *= 2
	}
	return min(d, g.maxBackoff)
}

// failed records a failure. A member that is not resting (the first
// failure, or one that ended after the rest did) rests; failures during a
// rest, of queries sent before it or of last-resort tries, do not lengthen
// it, so that a burst of concurrent failures does not postpone the probe.
func (g *Group) failed(mb *member, err *Error) {
	now := time.Now()
	g.mu.Lock()
	mb.fails++
	mb.kind = err.Kind
	if !now.Before(mb.retryAt) {
		mb.rests++
		mb.retryAt = now.Add(g.rest(mb.rests))
	}
	fails, probeIn := mb.fails, mb.retryAt.Sub(now)
	g.mu.Unlock()
	mb.m.setHealthy(false)
	switch fails {
	case 1:
		g.log.Warn("upstream unhealthy", "upstream", mb.u.String(), "kind", err.Kind.String(), "err", err.Err)
	case deadAfter:
		g.log.Warn("upstream down: not asked until a probe answers", "upstream", mb.u.String(), "failures", fails, "probe_in", probeIn.Round(time.Millisecond))
	}
}

func (g *Group) answered(mb *member, rtt time.Duration) {
	g.mu.Lock()
	recovered := mb.fails > 0
	mb.fails, mb.rests, mb.retryAt = 0, 0, time.Time{}
	if mb.ewma == 0 {
		mb.ewma = rtt
	} else {
		mb.ewma = time.Duration(ewmaWeight*float64(rtt) + (1-ewmaWeight)*float64(mb.ewma))
	}
	g.mu.Unlock()
	if recovered {
		mb.m.setHealthy(true)
		g.log.Info("upstream recovered", "upstream", mb.u.String())
	}
}

// String lists the members.
func (g *Group) String() string {
	names := make([]string, len(g.members))
	for i, mb := range g.members {
		names[i] = mb.u.String()
	}
	return "group(" + strings.Join(names, ",") + ")"
}

// Close closes every member.
func (g *Group) Close() error {
	var errs []error
	for _, mb := range g.members {
		errs = append(errs, mb.u.Close())
	}
	return errors.Join(errs...)
}
