// Package querystats keeps the statistics `dnsward stats` shows, without
// any client address: distinct clients in a HyperLogLog sketch of keyed
// hashes (the key random and held only in memory), the most queried and most blocked names per profile
// (and category), in bounded heavy-hitters sketches, query counts per
// transport and profile, and the client IDs (the users' own labels for their
// devices, never addresses) with the most queries and the most blocked ones. It sees every answer as a resolver.QueryLog, and
// like the query log it never slows a query: records go through a bounded
// queue to one goroutine, and are dropped (and counted) when it is full.
//
// Counts cover the last 12 to 24 hours: two 12-hour windows, the older
// dropped when a new one starts.
package querystats

import (
	"hash/maphash"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/pseudonym"
	"github.com/dnsward/dnsward/resolver"
)

// Window is how long one of the two windows lasts.
const Window = 12 * time.Hour

// sketchSize is how many names each heavy-hitters sketch tracks.
const sketchSize = 1024

// Stats collects the statistics; it implements resolver.QueryLog.
type Stats struct {
	queue   chan item
	kick    chan struct{}
	done    chan struct{}
	stopped chan struct{}
	seed    maphash.Seed // random, in memory only: the sketches' hash of a client
	now     func() time.Time

	mu      sync.Mutex
	dropped uint64
	cur     *window
	prev    *window
}

type item struct {
	client                                       netip.Addr // only counted, in the window's sketch
	name, profile, category, transport, clientID string
	// The packed query's header and question name, when name is not known
	// yet (a replayed answer): copied inline, so that logging one costs no
	// allocation on the query path.
	wire    [wireKept]byte
	wireLen uint16
}

// wireKept is the most of a packed query an item keeps: the 12-byte header
// and the longest name (255 bytes).
const wireKept = 12 + 255

// window is one period's counts.
type window struct {
	start   time.Time
	queries map[[2]string]uint64 // transport, profile
	queried map[string]*topK     // per profile
	blocked map[[2]string]*topK  // per profile and category
	clients pseudonym.Sketch     // distinct clients, as keyed hashes
	ids     *topK                // client IDs, by queries
	idsHit  *topK                // client IDs, by blocked answers
}

func newWindow(start time.Time) *window {
	return &window{start: start, queries: map[[2]string]uint64{}, queried: map[string]*topK{}, blocked: map[[2]string]*topK{},
		ids: newTopK(sketchSize), idsHit: newTopK(sketchSize)}
}

// New starts a Stats; now is its clock (nil: time.Now).
func New(now func() time.Time) *Stats {
	if now == nil {
		now = time.Now
	}
	s := &Stats{queue: make(chan item, 4096), kick: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{}),
		seed: maphash.MakeSeed(), now: now, cur: newWindow(now())}
	go s.run()
	return s
}

// Log implements resolver.QueryLog.
func (s *Stats) Log(rec resolver.LogRecord) {
	it := item{client: rec.Client, profile: rec.Profile, category: rec.Category, transport: rec.Transport.String(), clientID: rec.ClientID}
	if rec.Query != nil {
		if len(rec.Query.Question) == 1 {
			it.name = rec.Query.Question[0].Name
		}
	} else {
		it.wireLen = uint16(copy(it.wire[:], rec.QueryWire))
	}
	select {
	case s.queue <- it:
		if len(s.queue) < cap(s.queue)/2 {
			return
		}
	default:
		s.mu.Lock()
		s.dropped++
		s.mu.Unlock()
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// drainEvery is how often the collector wakes (or sooner when its queue is
// half full) to count what was queued: one wake-up for many queries.
const drainEvery = 10 * time.Millisecond

func (s *Stats) run() {
	defer close(s.stopped)
	tick := time.NewTicker(drainEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-s.kick:
		case <-s.done:
			return
		}
		s.mu.Lock()
		s.rotate() // once per drain: the clock is read once for many queries
		s.mu.Unlock()
		for n := len(s.queue); n > 0; n-- {
			it := <-s.queue
			s.add(&it)
		}
	}
}

func (s *Stats) add(it *item) {
	var seen uint64
	if it.client.IsValid() {
		b := it.client.Unmap().As16()
		seen = maphash.Bytes(s.seed, b[:])
	}
	if it.wireLen > 0 {
		if name, _, err := dns.UnpackDomainName(it.wire[:it.wireLen], 12); err == nil {
			it.name = name
		}
	}
	name := strings.ToLower(it.name)
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.cur
	if seen != 0 {
		w.clients.Add(seen)
	}
	w.queries[[2]string{it.transport, it.profile}]++
	if it.clientID != "" {
		w.ids.add(it.clientID)
		if it.category != "" {
			w.idsHit.add(it.clientID)
		}
	}
	if name == "" {
		return
	}
	q := w.queried[it.profile]
	if q == nil {
		q = newTopK(sketchSize)
		w.queried[it.profile] = q
	}
	q.add(name)
	if it.category != "" {
		k := [2]string{it.profile, it.category}
		b := w.blocked[k]
		if b == nil {
			b = newTopK(sketchSize)
			w.blocked[k] = b
		}
		b.add(name)
	}
}

// rotate starts a new window when the current one is over (s.mu held).
func (s *Stats) rotate() {
	now := s.now()
	if now.Sub(s.cur.start) < Window {
		return
	}
	s.prev, s.cur = s.cur, newWindow(now)
	if now.Sub(s.prev.start) >= 2*Window {
		s.prev = nil // nothing recent in it
	}
}

// Close stops the collector.
func (s *Stats) Close() error {
	close(s.done)
	<-s.stopped
	return nil
}
