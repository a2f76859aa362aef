package resolver

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures the resolver chain.
type Config struct {
	Upstream        Upstream      // required; usually an upstream.Group
	UpstreamTimeout time.Duration // bound on one upstream resolution; 0: 5s
	Cache           *CacheConfig  // nil: no cache (and no replay)
	Admission       Admitter      // rate limiter; nil: every query is admitted
	QueryLog        QueryLog      // told of every answer; nil: no query log
	Local           LocalConfig
	Metrics         *Metrics              // nil: no metrics
	Registerer      prometheus.Registerer // for the policy step's metrics; nil: none
	Logger          *slog.Logger
}

// Chain is the assembled resolver chain: a Handler that also replays
// (Replayer) and is told when policy verdicts change.
type Chain struct {
	*entry
}

// PolicyChanged tells the chain that verdicts may have changed (a list was
// swapped): every answer kept for replay so far is dropped from use. The
// gateway wires it to the filter's list swaps.
func (c *Chain) PolicyChanged() {
	if c.replay != nil {
		c.replay.policy.Add(1)
	}
}

// New assembles the resolver chain. This is the one place that decides the
// order of the steps; each position is deliberate:
//
//  1. entry: rejects non-queries and bad classes before any work, counts every
//     answer once, turns errors into SERVFAIL+EDE and normalises header/OPT
//     for the steps below, which may then return whatever is convenient.
//     With a cache it also replays (Replayer, see reuse.go): a transport
//     offers it the packed answer it sent, and an identical query within the
//     second gets those bytes back before anything is unpacked. Replay sits
//     outside every step because it repeats their combined result; it keeps
//     only answers they built normally (not failures or stale ones), and a
//     policy change (PolicyChanged) drops what it kept, so it never answers
//     differently from them.
//  2. query log (Config.QueryLog): told by entry of each final answer, the
//     way the client gets it (the bytes the transport reports with Sent,
//     not a second packing of its own): resolved, replayed, refused by admission
//     (ErrLimited too), FORMERR or SERVFAIL. Logging there, rather than as an
//     inner step, is the only place that sees replayed answers (which no
//     inner step runs for) and admission's refusals; the steps below note on
//     the Request what the log reports (cache, stale, upstream, blocked
//     category). Plain UDP queries refused at the socket or in XDP never
//     reach the chain and are not logged.
//  3. admission: charges the client's rate-limit bucket (Config.Admission),
//     once per query: replay asks it before answering, so a replayed answer
//     costs the client what a resolved one does; entry asks it too, before
//     its own checks, so a malformed or refused query (AXFR, CHAOS) costs a
//     token as well. Below entry so that refused queries are counted and
//     answered like any other (REFUSED with EDE 18, or ErrLimited for DoH's
//     429 and DoQ's EXCESSIVE_LOAD); above everything that costs work. Plain
//     UDP is charged at the socket (or in XDP).
//  4. local: resolver.arpa (DDR), localhost, invalid, the Firefox canary,
//     then the setup page's check zone (LocalConfig.CheckZone: a random
//     name under it, answered NXDOMAIN, tells the page that the visitor's
//     DNS reaches this gateway, through which profile and transport), then
//     the operator's own records (LocalConfig.Records and Profile.Local:
//     local_records, local_zone_files), answered authoritatively. Before
//     policy so that no list can block them (an operator's name is the
//     operator's decision, Blocky's order), and never forwarded. A local
//     CNAME whose target local data does not hold is followed through the
//     steps below, so policy judges that target.
//  5. policy: per-profile blocking, allow/deny and safe-search rewrites, and
//     CNAME uncloaking on the way back. Above the cache so the cache holds
//     only unfiltered answers, shared by every profile.
//  6. cache: serves hits, serve-stale and prefetch. Keyed by the query's
//     forward zone (Profile.Forward) as well, so that a profile's split-DNS
//     answers never reach profiles that resolve the name elsewhere.
//  7. coalesce: one upstream query for concurrent identical misses. Below the
//     cache so hits never wait behind a miss.
//  8. forward: strips client EDNS options (ECS) and asks the upstream group:
//     the forward zone's (longest match, chosen per query name so that a
//     rewrite's target takes its own) or Config.Upstream. Each group
//     retries truncated UDP answers over TCP and fails over. Forwarding
//     zones here, rather than in an earlier step, gives their names the
//     same policy, cache and coalescing as any other.
//     Config.Upstream may be wrapped by a transport that must know when a
//     query leaves for the upstreams: the gateway passes the group through
//     plain.MissAware, so that a plain-UDP miss stops holding a worker that
//     answers cache hits (and is bounded while it waits).
func New(cfg Config) (*Chain, error) {
	if cfg.Upstream == nil {
		return nil, errors.New("resolver: no upstream configured")
	}
	if cfg.UpstreamTimeout == 0 {
		cfg.UpstreamTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var h Handler = &forward{up: cfg.Upstream}
	h = NewCoalescer(h, cfg.UpstreamTimeout, cfg.Metrics)
	if cfg.Cache != nil {
		cc := *cfg.Cache
		cc.Metrics, cc.Logger = cfg.Metrics, cfg.Logger
		c, err := NewCache(cc, h)
		if err != nil {
			return nil, fmt.Errorf("resolver: %w", err)
		}
		h = c
	}
	policy, err := NewPolicyStep(PolicyConfig{Logger: cfg.Logger, Metrics: cfg.Registerer})
	if err != nil {
		return nil, fmt.Errorf("resolver: %w", err)
	}
	h = policy(h)
	h, err = newLocal(cfg.Local, h)
	if err != nil {
		return nil, err
	}
	e := &entry{metrics: cfg.Metrics, log: cfg.Logger, qlog: cfg.QueryLog}
	if cfg.Admission != nil {
		e.admit = &admission{next: h, admitter: cfg.Admission}
		h = e.admit
	}
	e.next = h
	if cfg.Cache != nil {
		e.replay = newReplay()
	}
	return &Chain{e}, nil
}
