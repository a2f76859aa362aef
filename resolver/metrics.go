package resolver

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds the resolver's Prometheus collectors. A nil *Metrics is valid
// and records nothing, which keeps tests and benchmarks free of registries.
type Metrics struct {
	queries     *prometheus.CounterVec // transport, profile, rcode
	inflight    prometheus.Gauge
	duration    *prometheus.HistogramVec // transport
	malformed   *prometheus.CounterVec   // transport, reason
	cacheHits   prometheus.Counter
	cacheMisses prometheus.Counter
	cacheStale  prometheus.Counter
	cacheEvict  prometheus.Counter
	prefetches  prometheus.Counter
	coalesced   prometheus.Counter
	clients     *prometheus.CounterVec // client_id; counted only after CountClientIDs(true)
	clientIDs   atomic.Bool

	// Children resolved once, so that counting an answer does not hash
	// label values on every query.
	durationBy [transport.Last + 1]prometheus.Observer
	queriesBy  sync.Map // answerLabels → prometheus.Counter
}

// answerLabels are the label values of dnsward_queries_total.
type answerLabels struct {
	transport transport.Kind
	profile   string
	rcode     int
}

// NewMetrics creates the resolver collectors and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnsward_queries_total", Help: "Answered queries by transport, profile and RCODE.",
		}, []string{"transport", "profile", "rcode"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dnsward_queries_inflight", Help: "Queries being answered now.",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dnsward_query_duration_seconds", Help: "Time to answer a query, by transport.",
			Buckets: []float64{.0001, .0005, .001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"transport"}),
		malformed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnsward_malformed_queries_total", Help: "Queries rejected before resolution, by transport and reason.",
		}, []string{"transport", "reason"}),
		cacheHits:   prometheus.NewCounter(prometheus.CounterOpts{Name: "dnsward_cache_hits_total", Help: "Answers served from the cache."}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{Name: "dnsward_cache_misses_total", Help: "Cache lookups that went upstream."}),
		cacheStale:  prometheus.NewCounter(prometheus.CounterOpts{Name: "dnsward_cache_stale_served_total", Help: "Expired answers served because refreshing failed (RFC 8767)."}),
		cacheEvict:  prometheus.NewCounter(prometheus.CounterOpts{Name: "dnsward_cache_evictions_total", Help: "Entries evicted to respect the size bound."}),
		prefetches:  prometheus.NewCounter(prometheus.CounterOpts{Name: "dnsward_cache_prefetches_total", Help: "Background refreshes of popular entries."}),
		coalesced:   prometheus.NewCounter(prometheus.CounterOpts{Name: "dnsward_coalesced_queries_total", Help: "Queries that waited for an identical in-flight upstream query."}),
		clients: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnsward_client_queries_total",
			Help: "Answered queries by client ID (configured clients; " + UnlistedClients + " for the rest), when metrics.client_ids is on.",
		}, []string{"client_id"}),
	}
	for t := transport.UDP; int(t) < len(m.durationBy); t++ {
		m.durationBy[t] = m.duration.WithLabelValues(t.String())
	}
	if reg != nil {
		reg.MustRegister(m.queries, m.inflight, m.duration, m.malformed, m.cacheHits, m.cacheMisses,
			m.cacheStale, m.cacheEvict, m.prefetches, m.coalesced, m.clients)
	}
	return m
}

// UnlistedClients is the client_id label of the queries of every client ID
// not configured under clients: those IDs are chosen by whoever connects,
// so they get no series of their own. It is no valid client ID.
const UnlistedClients = "(unlisted)"

// CountClientIDs turns counting answers per client ID on or off
// (metrics.client_ids; one series per configured client).
func (m *Metrics) CountClientIDs(on bool) {
	if m != nil {
		m.clientIDs.Store(on)
	}
}

// answered counts one answer to req and its duration.
func (m *Metrics) answered(req *Request, rcode int, d time.Duration) {
	if m == nil {
		return
	}
	t, profile := req.Transport, req.Profile.Name
	if req.ClientID != "" && m.clientIDs.Load() {
		label := UnlistedClients
		if req.ClientListed {
			label = req.ClientID
		}
		m.clients.WithLabelValues(label).Inc()
	}
	if t >= transport.UDP && int(t) < len(m.durationBy) {
		m.durationBy[t].Observe(d.Seconds())
	} else {
		m.duration.WithLabelValues(t.String()).Observe(d.Seconds()) // a request without a known transport (tests)
	}
	key := answerLabels{t, profile, rcode}
	c, ok := m.queriesBy.Load(key)
	if !ok {
		c, _ = m.queriesBy.LoadOrStore(key, m.queries.WithLabelValues(t.String(), profile, dns.RcodeToString[rcode]))
	}
	c.(prometheus.Counter).Inc()
}

// Malformed counts a query a transport rejected before it reached the chain.
func (m *Metrics) Malformed(t transport.Kind, reason string) {
	if m != nil {
		m.malformed.WithLabelValues(t.String(), reason).Inc()
	}
}

func (m *Metrics) cacheHit() {
	if m != nil {
		m.cacheHits.Inc()
	}
}

func (m *Metrics) cacheMiss() {
	if m != nil {
		m.cacheMisses.Inc()
	}
}

func (m *Metrics) staleServed() {
	if m != nil {
		m.cacheStale.Inc()
	}
}

func (m *Metrics) cacheEvicted(n int) {
	if m != nil && n > 0 {
		m.cacheEvict.Add(float64(n))
	}
}

func (m *Metrics) prefetch() {
	if m != nil {
		m.prefetches.Inc()
	}
}

func (m *Metrics) coalesce() {
	if m != nil {
		m.coalesced.Inc()
	}
}
