package querylog

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// sink writes records to one output. Its methods run on the sink's own
// goroutine only.
type sink interface {
	// write writes r, perhaps buffered; an error means r was not written.
	write(r *record) error
	// flush writes what write buffered; it returns how many buffered
	// records were lost if that failed.
	flush() (lost int, err error)
	close()
}

// flushBatch is how many records a sink buffers at most before it flushes.
const flushBatch = 256

// warnEvery bounds how often a sink warns that it drops records.
const warnEvery = 10 * time.Second

// runner is a sink's bounded queue and writer goroutine.
type runner struct {
	name    string
	queue   chan record
	done    chan struct{} // closed to stop the writer
	stopped chan struct{} // closed when the writer returned
	dropped prometheus.Counter
	log     *slog.Logger

	batch    int // records written since the last flush (writer goroutine only)
	unwarned int // drops not warned about yet (writer goroutine only)
	warned   time.Time
	full     chan struct{} // the query path's drops, told to the writer for the warning
}

func startRunner(cfg SinkConfig, s sink, dropped prometheus.Counter, log *slog.Logger) *runner {
	n := cfg.Queue
	if n <= 0 {
		n = 4096
	}
	r := &runner{
		name: cfg.Name(), queue: make(chan record, n), done: make(chan struct{}), stopped: make(chan struct{}),
		dropped: dropped, log: log, full: make(chan struct{}, 1),
	}
	go r.run(s)
	return r
}

// offer queues rec, or drops and counts it when the queue is full.
func (r *runner) offer(rec *record) {
	select {
	case r.queue <- *rec:
	default:
		r.dropped.Inc()
		select {
		case r.full <- struct{}{}: // the writer warns
		default:
		}
	}
}

func (r *runner) run(s sink) {
	defer close(r.stopped)
	defer s.close()
	for {
		select {
		case rec := <-r.queue:
			r.write(s, &rec)
		case <-r.full:
			r.drop(0, "queue full")
		case <-r.done:
			for {
				select {
				case rec := <-r.queue:
					r.write(s, &rec)
				default:
					r.flush(s)
					return
				}
			}
		}
	}
}

// write writes rec, and flushes once the queue is empty or a batch is full.
func (r *runner) write(s sink, rec *record) {
	if err := s.write(rec); err != nil {
		r.drop(1, err.Error())
	}
	if r.batch++; len(r.queue) == 0 || r.batch >= flushBatch {
		r.flush(s)
	}
}

func (r *runner) flush(s sink) {
	r.batch = 0
	if lost, err := s.flush(); err != nil {
		r.drop(lost, err.Error())
	}
}

// drop counts n records lost by the writer and warns, at most every
// warnEvery, of every drop since the last warning.
func (r *runner) drop(n int, why string) {
	r.dropped.Add(float64(n))
	r.unwarned += n
	if time.Since(r.warned) < warnEvery {
		return
	}
	r.warned = time.Now()
	r.log.Warn("querylog: dropping records", "sink", r.name, "reason", why, "dropped_by_writer", r.unwarned)
	r.unwarned = 0
}

// stop ends the writer once it wrote what was queued.
func (r *runner) stop() {
	close(r.done)
	<-r.stopped
}
