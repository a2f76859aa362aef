package resolver

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Replay answers a repeated query with the bytes a transport sent for the
// same query moments ago. On the cache-hit path most of a query's cost is
// unpacking it, walking the chain and packing an answer that, bar the ID and
// the spelling of the name, is the one sent a moment ago; replay skips all
// three. It is keyed by everything that shapes those bytes: profile,
// transport, header flags, the EDNS facts the answer depends on (present, DO,
// padding, keepalive), type, class and the lower-cased name.
//
// It holds an answer at most replayFor (shorter for short TTLs, so that a
// popular name still reaches the cache's prefetch window), so the TTLs it
// repeats are at most a second old, as with any cache counting in seconds.
// Only answers that the chain built normally are kept: not failures, stale
// answers, truncated or rate-limited ones. A policy change (a list reload)
// invalidates everything kept before it.
//
// Replay is entirely an optimisation: whatever it declines goes through the
// full chain, which decides as it always did.
type Replayer interface {
	Handler
	// Replay appends to dst the answer for the packed query q when one is
	// held and returns it (dst and the answer) with the HTTP max-age its
	// TTLs allow; ok false means q must be resolved with ServeDNS. req.Msg
	// is not used; for UDP an answer larger than the client's limit is
	// declined. admit, when not nil, is asked once q parsed as a query
	// replay could answer, the chain's admission step charges the client
	// (and records its decision on req for ServeDNS): a refused query is
	// declined, and ServeDNS then refuses it as it always does.
	Replay(req *Request, q, dst []byte) (ans []byte, maxAge uint32, ok bool)
	// Sent tells the chain of ans, the packed answer the transport sent for
	// req (just resolved by ServeDNS from the packed query q): the query log
	// logs it, and replay may keep it. q and ans are nil when the answer
	// went out in another form (DoH's JSON API): only the log needs to know.
	Sent(req *Request, q, ans []byte)
}

const (
	replayFor       = time.Second
	replayShards    = 64
	replayPerShard  = 256  // entries per shard: 16384 in all
	replayMaxAnswer = 2048 // bytes; larger answers are rare and not kept
)

// replay holds the answers; it is safe for concurrent use.
type replay struct {
	seed   maphash.Seed
	epoch0 time.Time // replay's clock is monotonic time since this
	// policy counts policy changes (list swaps); answers kept before a
	// change are not replayed after it.
	policy atomic.Uint64
	shards [replayShards]replayShard
}

type replayShard struct {
	mu sync.RWMutex
	m  map[string]*replayEntry
}

type replayEntry struct {
	ans     []byte
	maxAge  uint32
	rcode   int
	cached  bool               // the answer came from the cache: replays count as cache hits
	policy  prometheus.Counter // the policy metric the answer counted in, if any
	blocked string             // the list category that blocked it (query log)
	epoch   uint64
	expires int64 // on replay's clock
}

// replayTicket is what the entry step notes on a request for Sent: whether
// its answer may be kept, and the policy epoch it was resolved under.
type replayTicket struct {
	ok    bool
	epoch uint64
}

func newReplay() *replay {
	r := &replay{seed: maphash.MakeSeed(), epoch0: time.Now()}
	for i := range r.shards {
		r.shards[i].m = make(map[string]*replayEntry)
	}
	return r
}

func (r *replay) now() int64 { return int64(time.Since(r.epoch0)) }

func (r *replay) shard(key []byte) *replayShard {
	return &r.shards[maphash.Bytes(r.seed, key)%replayShards]
}

// lookup returns the entry for w that is live at t, or nil.
func (r *replay) lookup(w *wireQuery, t time.Time) *replayEntry {
	key := w.key[:w.keyLen]
	sh := r.shard(key)
	sh.mu.RLock()
	e := sh.m[string(key)]
	sh.mu.RUnlock()
	if e == nil || e.epoch != r.policy.Load() || int64(t.Sub(r.epoch0)) >= e.expires {
		return nil
	}
	return e
}

// answer appends e's answer to the query q to dst: q's ID and spelling of the name.
func (e *replayEntry) answer(q []byte, w *wireQuery, dst []byte) []byte {
	at := len(dst)
	dst = append(dst, e.ans...)
	m := dst[at:]
	m[0], m[1] = q[0], q[1]
	copy(m[12:w.nameEnd], q[12:w.nameEnd])
	return dst
}

// keep stores ans, the answer to req, for w when it qualifies.
func (r *replay) keep(w *wireQuery, req *Request, ans []byte) {
	if len(ans) > replayMaxAnswer {
		return
	}
	f, ok := parseAnswer(ans, w)
	if !ok || f.minTTL == 0 {
		return
	}
	life := replayFor
	if f.minTTL < 10 { // leave most of a short TTL to the cache and its prefetch
		life = time.Duration(f.minTTL) * replayFor / 10
	}
	e := &replayEntry{
		ans: append([]byte(nil), ans...), maxAge: f.maxAge, rcode: f.rcode, cached: req.reuse.cached, policy: req.reuse.policy,
		blocked: req.category,
		epoch:   req.reuse.ticket.epoch, expires: r.now() + int64(life),
	}
	key := w.key[:w.keyLen]
	sh := r.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old, ok := sh.m[string(key)]; !ok && len(sh.m) >= replayPerShard {
		for k := range sh.m { // full: make room by dropping any one entry
			delete(sh.m, k)
			break
		}
	} else if ok && old.expires > e.expires && old.epoch == e.epoch {
		return // a newer answer is already kept
	}
	sh.m[string(key)] = e
}
