// Package querylog writes the resolver's answers to query logs (dnstap and
// JSON lines) without ever writing a client's address: each record carries
// the client as its Mode says (a daily pseudonym by default, see package
// pseudonym), and never an EDNS Client Subnet (the record holds the query
// as the client sent it, and forwarding strips ECS; the JSON sink writes no
// options at all).
//
// The query path only copies the bytes the client sent and got into a
// record and queues it: each sink has a bounded queue and one writer
// goroutine, which masks the client the Mode's way (the address waits in
// memory until the next drain, as in package querystats, and is never
// written) and encodes the record. When a sink stalls (a collector that
// stops reading, a full disk) its queue fills and further records are
// dropped and counted in dnsward_querylog_dropped_total{sink}, with a
// warning at most every 10 seconds; a query never waits for a sink.
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
}

// record is what a sink's queue holds. client is the address as the
// transport saw it: each sink's writer masks it (Mode) before writing, so
// it leaves memory only masked.
type record struct {
	time      time.Time
	latency   time.Duration
	client    netip.Addr
	transport transport.Kind
	profile   string
	clientID  string // the client's own label, not an address
	outcome   resolver.Outcome
	category  string
	msgs      messages
}

// fill makes r the record of rec, with the messages q and a.
func (r *record) fill(rec *resolver.LogRecord, q, a []byte) {
	r.time, r.latency, r.client, r.transport = rec.Received, rec.Latency, rec.Client, rec.Transport
	r.profile, r.clientID, r.outcome, r.category = rec.Profile, rec.ClientID, rec.Outcome, rec.Category
	r.msgs.set(q, a)
}

func (r *record) query() []byte  { return r.msgs.bytes()[:r.msgs.qlen] }
func (r *record) answer() []byte { return r.msgs.bytes()[r.msgs.qlen:] }

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
		st.sinks = append(st.sinks, startRunner(sc, s, cfg.Masker, l.dropped.WithLabelValues(sc.Name()), l.log))
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
	q, a, ok := wireOf(&rec)
	if !ok {
		return
	}
	for _, s := range st.sinks {
		s.offer(&rec, q, a)
	}
}
