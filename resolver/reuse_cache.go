package resolver

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/miekg/dns"
)

// CacheConfig configures the answer cache.
type CacheConfig struct {
	Size       int           // maximum entries; required
	MinTTL     time.Duration // lower bound on stored TTLs (0: none)
	MaxTTL     time.Duration // upper bound on stored TTLs (0: 24h)
	ServeStale time.Duration // how long past expiry an answer may be served when refreshing fails (RFC 8767); 0 disables
	// Prefetch refreshes an entry in the background when it is hit with less
	// than PrefetchRatio of its TTL left and has been hit PrefetchHits times.
	PrefetchHits  uint32  // 0: 3
	PrefetchRatio float64 // 0: 0.1
	// StaleAfter is RFC 8767's client response timer: how long a client
	// waits for the refresh of an expired answer before the stale one is
	// served (the refresh goes on in the background). 0: 1.8s.
	StaleAfter time.Duration
	Metrics    *Metrics
	Logger     *slog.Logger
	Now        func() time.Time // for tests; nil: time.Now
}

// StaleTTL is the TTL put on answers served stale (RFC 8767 §4 recommends 30 s).
const StaleTTL = 30

// failureRecheck is RFC 8767's failure recheck timer: after a refresh
// failed, stale answers are served at once for this long before the next try.
const failureRecheck = 30 * time.Second

// Cache is the caching step of the resolver chain. It stores unfiltered
// upstream answers and is shared by every profile.
type Cache struct {
	cfg   CacheConfig
	store *cacheStore
	next  Handler
	epoch time.Time // times are measured from here, on the monotonic clock
}

// NewCache validates cfg and returns a cache in front of next.
func NewCache(cfg CacheConfig, next Handler) (*Cache, error) {
	if cfg.Size <= 0 {
		return nil, fmt.Errorf("cache: size must be > 0, got %d", cfg.Size)
	}
	if cfg.MinTTL < 0 || cfg.MaxTTL < 0 || cfg.ServeStale < 0 {
		return nil, fmt.Errorf("cache: durations must not be negative")
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = 24 * time.Hour
	}
	if cfg.MinTTL > cfg.MaxTTL {
		return nil, fmt.Errorf("cache: min_ttl %s exceeds max_ttl %s", cfg.MinTTL, cfg.MaxTTL)
	}
	if cfg.PrefetchHits == 0 {
		cfg.PrefetchHits = 3
	}
	if cfg.PrefetchRatio == 0 {
		cfg.PrefetchRatio = 0.1
	}
	if cfg.StaleAfter == 0 {
		cfg.StaleAfter = 1800 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Cache{cfg: cfg, store: newCacheStore(cfg.Size), next: next, epoch: cfg.Now()}, nil
}

// now is the time since the cache's epoch. time.Time.Sub uses the monotonic
// clock, so a stepped wall clock neither expires nor revives entries.
func (c *Cache) now() int64 { return int64(c.cfg.Now().Sub(c.epoch)) }

// Len returns the number of cached answers.
func (c *Cache) Len() int { return c.store.len() }

// ServeDNS answers from the cache, refreshing through next on a miss.
func (c *Cache) ServeDNS(ctx context.Context, req *Request) (*dns.Msg, error) {
	key := keyOf(req)
	now := c.now()
	e := c.store.get(key)
	if e != nil {
		age := now - e.stored
		if age < e.ttl {
			c.cfg.Metrics.cacheHit()
			req.reuse.cached = true
			c.maybePrefetch(req, e, age)
			return c.reply(e, req.Msg, age, false)
		}
		if age < e.ttl+int64(c.cfg.ServeStale) {
			return c.refreshStale(ctx, req, e)
		}
		c.store.remove(e)
	}
	c.cfg.Metrics.cacheMiss()
	resp, err := c.next.ServeDNS(ctx, req)
	if err != nil {
		return nil, err
	}
	req.reuse.cached = c.insert(key, resp, now)
	req.reuse.uncacheable = !req.reuse.cached
	return resp, nil
}

// refreshStale refreshes an expired entry that may still be served stale
// (RFC 8767): the fresh answer if it comes within StaleAfter, else the stale
// one while the refresh goes on in the background; and straight away while
// a failed refresh is younger than failureRecheck.
func (c *Cache) refreshStale(ctx context.Context, req *Request, e *cacheEntry) (*dns.Msg, error) {
	c.cfg.Metrics.cacheMiss()
	if failed := e.failedAt.Load(); failed != 0 && c.now()-failed < int64(failureRecheck) {
		return c.stale(req, e)
	}
	type result struct {
		resp   *dns.Msg
		err    error
		stored bool
	}
	done := make(chan result, 1)
	refresh := &Request{Msg: req.Msg.Copy(), Client: req.Client, Transport: req.Transport, ServerName: req.ServerName, Profile: req.Profile}
	go func() { // outlives the client's wait; bounded like prefetch
		// A fresh context, not the query's: the refresh belongs to no
		// transport (a plain-UDP query's pending-miss accounting must not
		// see it, or refuse the query its stale answer).
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := c.next.ServeDNS(rctx, refresh)
		stored := false
		if err != nil || resp.Rcode == dns.RcodeServerFailure {
			e.failedAt.Store(max(c.now(), 1))
		} else {
			stored = c.insert(e.key, resp, c.now())
		}
		done <- result{resp, err, stored}
	}()
	timer := time.NewTimer(c.cfg.StaleAfter)
	defer timer.Stop()
	select {
	case r := <-done:
		if r.err == nil && r.resp.Rcode != dns.RcodeServerFailure {
			req.reuse.cached, req.reuse.uncacheable = r.stored, !r.stored // as on a miss: replay keeps only what the cache keeps
			return r.resp, nil
		}
	case <-timer.C:
	case <-ctx.Done():
	}
	return c.stale(req, e)
}

// stale answers from an expired entry with StaleTTL and EDE 3.
func (c *Cache) stale(req *Request, e *cacheEntry) (*dns.Msg, error) {
	m, err := c.reply(e, req.Msg, 0, true)
	if err != nil {
		return nil, err
	}
	c.cfg.Metrics.staleServed()
	req.reuse.stale = true
	AddEDE(req.Msg, m, EDEStaleAnswer, "")
	return m, nil
}

// maybePrefetch refreshes a popular entry shortly before it expires, once.
func (c *Cache) maybePrefetch(req *Request, e *cacheEntry, age int64) {
	hits := e.hits.Add(1)
	left := e.ttl - age
	if hits < c.cfg.PrefetchHits || float64(left) > float64(e.ttl)*c.cfg.PrefetchRatio {
		return
	}
	if !e.prefetching.CompareAndSwap(false, true) {
		return
	}
	sub := &Request{Msg: req.Msg.Copy(), Client: req.Client, Transport: req.Transport, ServerName: req.ServerName, Profile: req.Profile}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.cfg.Metrics.prefetch()
		resp, err := c.next.ServeDNS(ctx, sub)
		if err != nil || resp.Rcode == dns.RcodeServerFailure {
			e.prefetching.Store(false)
			c.cfg.Logger.Debug("cache: prefetch failed", "name", e.key.name, "err", err)
			return
		}
		c.insert(e.key, resp, c.now())
	}()
}

// insert stores resp if it is cacheable, and reports whether it did. An
// answer the cache could not give back (its packed form does not unpack) is
// not cacheable.
func (c *Cache) insert(key cacheKey, resp *dns.Msg, now int64) bool {
	ttl, ok := cacheTTL(resp)
	if !ok {
		return false
	}
	d := min(max(time.Duration(ttl)*time.Second, c.cfg.MinTTL), c.cfg.MaxTTL)
	if d <= 0 {
		return false
	}
	wire, err := packAnswer(resp)
	if err == nil {
		_, err = cachedReply(wire, resp, 0, 0, ^uint32(0), false)
	}
	if err != nil {
		c.cfg.Logger.Debug("cache: answer not stored", "name", key.name, "err", err)
		return false
	}
	evicted := c.store.put(&cacheEntry{key: key, wire: wire, stored: now, ttl: int64(d)})
	c.cfg.Metrics.cacheEvicted(evicted)
	return true
}

// reply builds the answer for query q from the entry (see cachedReply): the
// client's ID and question, TTLs clamped to MinTTL and MaxTTL, as long as
// the entry is kept, then reduced by age, or StaleTTL when stale. The entry
// step adds the OPT record the client's query calls for.
func (c *Cache) reply(e *cacheEntry, q *dns.Msg, age int64, stale bool) (*dns.Msg, error) {
	lo, hi := uint32(c.cfg.MinTTL/time.Second), uint32(c.cfg.MaxTTL/time.Second)
	return cachedReply(e.wire, q, uint32(age/int64(time.Second)), lo, hi, stale)
}

// cacheTTL returns how long resp may be cached: the smallest TTL of a
// positive answer, or the negative TTL of RFC 2308 §5 (min of the SOA's TTL
// and MINIMUM, which negativeTTL writes into the SOA) for NXDOMAIN and
// NODATA. Answers without a usable TTL, truncated answers and other RCODEs
// are not cached.
func cacheTTL(resp *dns.Msg) (uint32, bool) {
	if resp.Truncated || len(resp.Question) != 1 {
		return 0, false
	}
	switch resp.Rcode {
	case dns.RcodeSuccess:
		if len(resp.Answer) > 0 {
			return minTTL(resp.Answer, resp.Ns), true
		}
		return negativeTTL(resp)
	case dns.RcodeNameError:
		return negativeTTL(resp)
	}
	return 0, false
}

func minTTL(sections ...[]dns.RR) uint32 {
	ttl := ^uint32(0)
	for _, rrs := range sections {
		for _, rr := range rrs {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			ttl = min(ttl, rr.Header().Ttl)
		}
	}
	return ttl
}

// negativeTTL returns a negative answer's TTL, min of its SOA's TTL and
// MINIMUM, and makes it the SOA's own (RFC 2308 §3), in the answer the miss
// returns and so in the one the cache keeps: with the SOA's own TTL (say
// 3600 against a MINIMUM of 300) a downstream cache would keep the answer
// up to MINIMUM seconds after this cache's entry expired.
func negativeTTL(resp *dns.Msg) (uint32, bool) {
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
			return soa.Hdr.Ttl, true
		}
	}
	return 0, false // RFC 2308 §5: without an SOA, negative answers are not cached
}

func removeOPT(m *dns.Msg) {
	kept := m.Extra[:0]
	for _, rr := range m.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			kept = append(kept, rr)
		}
	}
	m.Extra = kept
}
