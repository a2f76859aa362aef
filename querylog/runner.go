package querylog

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/resolver"
)

// sink writes records to one output. Its methods run on the sink's own
// goroutine only.
type sink interface {
	// write writes r, perhaps buffered; on an error it returns how many
	// records (r, or buffered ones it had to write out) were lost.
	write(r *record) (lost int, err error)
	// flush writes what write buffered; it returns how many buffered
	// records were lost if that failed.
	flush() (lost int, err error)
	close()
}

// The writer wakes every drainEvery (or when its queue is half full) and
// writes what was queued in one go: one wake-up and one write for many
// records, rather than one per query.
const (
	drainEvery = 10 * time.Millisecond
	flushBatch = 256 // records buffered at most between two writes
)

// warnEvery bounds how often a sink warns that it drops records.
const warnEvery = 10 * time.Second

// runner is a sink's bounded queue and writer goroutine. Its records are
// made once: the query path takes a free one, fills it and queues it, the
// writer puts it back once written; when none is free the queue is full.
type runner struct {
	name    string
	queue   chan *record
	free    chan *record
	kick    chan struct{} // wakes the writer early
	done    chan struct{} // closed to stop the writer
	stopped chan struct{} // closed when the writer returned
	dropped prometheus.Counter
	full    atomic.Uint64 // records the query path dropped, not yet warned about
	closed  atomic.Bool   // stopped: records still offered (a reload's stragglers) are dropped and counted
	masker  *Masker
	log     *slog.Logger

	batch    int // records written since the last flush (writer goroutine only)
	unwarned int // drops by the writer not warned about yet
	warned   time.Time
}

func startRunner(cfg SinkConfig, s sink, masker *Masker, dropped prometheus.Counter, log *slog.Logger) *runner {
	r := newRunner(cfg, masker, dropped, log)
	go r.run(s)
	return r
}

// newRunner makes a runner and its records, without starting its writer.
func newRunner(cfg SinkConfig, masker *Masker, dropped prometheus.Counter, log *slog.Logger) *runner {
	n := cfg.Queue
	if n <= 0 {
		n = 4096
	}
	r := &runner{
		name: cfg.Name(), queue: make(chan *record, n), free: make(chan *record, n), kick: make(chan struct{}, 1),
		done: make(chan struct{}), stopped: make(chan struct{}), dropped: dropped, masker: masker, log: log,
	}
	recs := make([]record, n)
	for i := range recs {
		r.free <- &recs[i]
	}
	return r
}

// offer queues a record of rec with the messages q and a, or drops and
// counts it when the queue is full.
func (r *runner) offer(rec *resolver.LogRecord, q, a []byte) {
	var queued *record
	if !r.closed.Load() {
		select {
		case queued = <-r.free:
		default:
		}
	}
	if queued == nil {
		r.dropped.Inc()
		if !r.closed.Load() {
			r.full.Add(1)
			r.wake()
		}
		return
	}
	queued.fill(rec, q, a)
	r.queue <- queued // never blocks: the queue has room for every record
	if len(r.queue) >= cap(r.queue)/2 {
		r.wake()
	}
}

// wake has the writer drain the queue now.
func (r *runner) wake() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *runner) run(s sink) {
	defer close(r.stopped)
	defer s.close()
	tick := time.NewTicker(drainEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-r.kick:
		case <-r.done:
			r.drain(s)
			return
		}
		r.drain(s)
		if n := r.full.Swap(0); n > 0 {
			r.warn(int(n), "queue full")
		}
	}
}

// drain writes the records queued now, with their clients masked, and
// flushes them.
func (r *runner) drain(s sink) {
	for n := len(r.queue); n > 0; n-- {
		rec := <-r.queue
		rec.client = r.masker.Addr(rec.client, rec.time)
		lost, err := s.write(rec)
		r.free <- rec
		if err != nil {
			r.drop(lost, err.Error())
		}
		if r.batch++; r.batch >= flushBatch {
			r.flush(s)
		}
	}
	r.flush(s)
}

func (r *runner) flush(s sink) {
	r.batch = 0
	if lost, err := s.flush(); err != nil {
		r.drop(lost, err.Error())
	}
}

// drop counts n records lost by the writer and warns.
func (r *runner) drop(n int, why string) {
	r.dropped.Add(float64(n))
	r.warn(n, why)
}

// warn logs, at most every warnEvery, how many records were dropped since
// the last warning.
func (r *runner) warn(n int, why string) {
	r.unwarned += n
	if time.Since(r.warned) < warnEvery {
		return
	}
	r.warned = time.Now()
	r.log.Warn("querylog: dropping records", "sink", r.name, "reason", why, "dropped", r.unwarned)
	r.unwarned = 0
}

// stop ends the writer once it wrote what was queued.
func (r *runner) stop() {
	close(r.done)
	<-r.stopped
	r.closed.Store(true)
	for len(r.queue) > 0 { // offered after the writer's last look
		<-r.queue
		r.dropped.Inc()
	}
}
