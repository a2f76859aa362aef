// Package querylog writes the resolver's answers to query logs (dnstap and
// JSON lines) without ever writing a client's address: each record carries
// the client as its Mode says (a daily pseudonym by default, see package
// pseudonym), and never an EDNS Client Subnet (the record holds the query
// as the client sent it, and forwarding strips ECS; the JSON sink writes no
// options at all).
//
// The query path only packs the messages and queues the record: each sink
// has a bounded queue and one writer goroutine. When a sink stalls (a
// collector that stops reading, a full disk) its queue fills and further
// records are dropped and counted in dnsward_querylog_dropped_total{sink},
// with a warning at most every 10 seconds; a query never waits for a sink.
package querylog

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/transport"
	"github.com/dnsward/dnsward/resolver"
)

// Config configures a query log.
type Config struct {
	Masker      *Masker // how clients are written; required
	OnlyBlocked bool    // log only answers the policy step changed
	Sample      float64 // share of queries logged, in (0, 1]; 0: 1
	Sinks       []SinkConfig
}

// SinkConfig is one output: exactly one of Dnstap and JSON.
type SinkConfig struct {
	// Dnstap is where dnstap frames go: unix:///path, tcp://host:port or
	// file:///path.
	Dnstap string
	// JSON is the path of a JSON-lines file.
	JSON     string
	Rotation Rotation // files only
	Queue    int      // records waiting for the writer; 0: 4096
}

// Name is the sink's label in metrics and logs.
func (c SinkConfig) Name() string {
	if c.Dnstap != "" {
		return "dnstap:" + c.Dnstap
	}
	return "json:" + c.JSON
}

// Log is a running query log; it implements resolver.QueryLog.
type Log struct {
	log     *slog.Logger
	dropped *prometheus.CounterVec
	mu      sync.Mutex // serialises Update and Close
	cur     atomic.Pointer[state]
}

// state is one configuration's worth of a Log, swapped whole on Update.
type state struct {
	cfg   Config
	sinks []*runner
	pack  bool // some sink needs the messages packed
}

// record is what a sink's queue holds: the log record with the client
// already masked and the messages packed.
type record struct {
	time      time.Time
	latency   time.Duration
	client    netip.Addr // masked; invalid when the mode writes none
	transport transport.Kind
	profile   string
	clientID  string // the client's own label, not an address
	outcome   resolver.Outcome
	category  string
	wire      []byte // the query, then the answer
	qlen      int
}

func (r *record) query() []byte  { return r.wire[:r.qlen] }
func (r *record) answer() []byte { return r.wire[r.qlen:] }

// New starts the sinks of cfg. reg, when not nil, gets
// dnsward_querylog_dropped_total.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*Log, error) {
	if log == nil {
		log = slog.Default()
	}
	l := &Log{log: log, dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnsward_querylog_dropped_total",
		Help: "Query log records dropped because the sink's queue was full or its write failed.",
	}, []string{"sink"})}
	if reg != nil {
		if err := reg.Register(l.dropped); err != nil {
			return nil, fmt.Errorf("querylog: metrics: %w", err)
		}
	}
	if err := l.Update(cfg); err != nil {
		return nil, err
	}
	return l, nil
}

// Update applies cfg: new sinks start, then the old ones finish what they
// queued and stop. On error the Log keeps its previous configuration.
func (l *Log) Update(cfg Config) error {
	if err := cfg.check(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st := &state{cfg: cfg}
	for _, sc := range cfg.Sinks {
		s, err := newSink(sc)
		if err != nil {
			for _, r := range st.sinks {
				r.stop()
			}
			return fmt.Errorf("querylog: %s: %w", sc.Name(), err)
		}
		st.sinks = append(st.sinks, startRunner(sc, s, l.dropped.WithLabelValues(sc.Name()), l.log))
		st.pack = true
	}
	if old := l.cur.Swap(st); old != nil {
		for _, r := range old.sinks {
			r.stop()
		}
	}
	return nil
}

func (c Config) check() error {
	if c.Masker == nil {
		return errors.New("querylog: no client mode")
	}
	if c.Sample < 0 || c.Sample > 1 {
		return fmt.Errorf("querylog: sample must be in [0, 1], got %v", c.Sample)
	}
	return nil
}

// Close stops every sink once it wrote what it queued.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old := l.cur.Swap(&state{}); old != nil {
		for _, r := range old.sinks {
			r.stop()
		}
	}
	return nil
}

// Log implements resolver.QueryLog: it queues rec for every sink, or drops
// it when a sink's queue is full.
func (l *Log) Log(rec resolver.LogRecord) {
	st := l.cur.Load()
	if len(st.sinks) == 0 || st.cfg.OnlyBlocked && !rec.Policy ||
		st.cfg.Sample > 0 && st.cfg.Sample < 1 && rand.Float64() >= st.cfg.Sample {
		return
	}
	r := record{
		time: rec.Received, latency: rec.Latency, transport: rec.Transport, profile: rec.Profile,
		clientID: rec.ClientID, outcome: rec.Outcome, category: rec.Category,
	}
	if a, ok := st.cfg.Masker.Addr(rec.Client); ok {
		r.client = a
	}
	if !pack(&r, &rec) {
		return
	}
	for _, s := range st.sinks {
		s.offer(&r)
	}
}

// pack copies the query and answer of rec into r.wire: one allocation for
// a replayed answer, and usually one for a resolved one too (both messages
// are packed into one buffer).
func pack(r *record, rec *resolver.LogRecord) bool {
	if rec.QueryWire != nil {
		r.wire = make([]byte, len(rec.QueryWire)+len(rec.ResponseWire))
		r.qlen = copy(r.wire, rec.QueryWire)
		copy(r.wire[r.qlen:], rec.ResponseWire)
		return true
	}
	buf := make([]byte, packBuffer)
	q, err := rec.Query.PackBuffer(buf)
	if err != nil {
		return false
	}
	r.qlen, r.wire = len(q), q
	if rec.Response == nil {
		return true
	}
	var rest []byte
	if &q[0] == &buf[0] && len(q) < len(buf) {
		rest = buf[len(q):]
	}
	a, err := rec.Response.PackBuffer(rest)
	if err != nil {
		return false
	}
	if len(rest) > 0 && len(a) > 0 && &a[0] == &rest[0] { // packed in place, right after the query
		r.wire = buf[:len(q)+len(a)]
	} else {
		r.wire = append(q[:len(q):len(q)], a...)
	}
	return true
}

// packBuffer is the size of the buffer a resolved query and its answer are
// packed into (miekg/dns wants room for the uncompressed message).
const packBuffer = 2048
