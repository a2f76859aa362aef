package querylog

import (
	"log/slog"
	"sync"
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

// runner is a sink's bounded queue and writer goroutine. The queue is a
// ring of records made once: the query path fills the next free one under
// mu (one short lock, no allocation), the writer writes the queued ones
// outside it and then frees them; when none is free the queue is full.
type runner struct {
	name    string
	mu      sync.Mutex
	ring    []record
	head, n int           // the queued records: ring[head], ... n of them, wrapping (mu)
	closed  bool          // stopped: records still offered (a reload's stragglers) are dropped and counted (mu)
	kick    chan struct{} // wakes the writer early
	done    chan struct{} // closed to stop the writer
	stopped chan struct{} // closed when the writer returned
	dropped prometheus.Counter
	full    atomic.Uint64 // records the query path dropped, not yet warned about
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
	return &runner{
		name: cfg.Name(), ring: make([]record, n), kick: make(chan struct{}, 1), done: make(chan struct{}),
		stopped: make(chan struct{}), dropped: dropped, masker: masker, log: log,
	}
}

// offer queues a record of rec with the messages q and a, or drops and
// counts it when the queue is full.
func (r *runner) offer(rec *resolver.LogRecord, q, a []byte) {
	r.mu.Lock()
	if r.closed || r.n == len(r.ring) {
		closed := r.closed
		r.mu.Unlock()
		r.dropped.Inc()
		if !closed {
			r.full.Add(1)
			r.wake()
		}
		return
	}
	r.ring[(r.head+r.n)%len(r.ring)].fill(rec, q, a)
	r.n++
	half := r.n >= len(r.ring)/2
	r.mu.Unlock()
	if half {
		r.wake()
	}
}

// queued returns the records queued now: where they start, and how many.
func (r *runner) queued() (head, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.head, r.n
}

// release frees the n oldest queued records.
func (r *runner) release(n int) {
	r.mu.Lock()
	r.head, r.n = (r.head+n)%len(r.ring), r.n-n
	r.mu.Unlock()
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
// flushes them; each batch of flushBatch records is freed once written.
func (r *runner) drain(s sink) {
	head, n := r.queued()
	for i := range n {
		rec := &r.ring[(head+i)%len(r.ring)]
		rec.client = r.masker.Addr(rec.client, rec.time)
		if lost, err := s.write(rec); err != nil {
			r.drop(lost, err.Error())
		}
		rec.msgs.large = nil // written (encoded into the sink's buffer): a burst of big answers is not pinned until the slot comes round again
		if r.batch++; r.batch >= flushBatch {
			r.flush(s)
			r.release(flushBatch)
		}
	}
	r.release(r.batch)
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
	r.mu.Lock()
	r.closed = true
	late := r.n // offered after the writer's last look
	r.n = 0
	r.mu.Unlock()
	r.dropped.Add(float64(late))
}
