package loadgen

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// Options describe one load run.
type Options struct {
	Server   string        // udp://, tcp://, tls://, https://, h3://, quic:// URL
	Queries  []Query       // sent round-robin
	Conns    int           // connections (1)
	Inflight int           // queries in flight per connection (1)
	Duration time.Duration // stop after this long (10s when Count is 0)
	Count    int64         // stop after this many queries (0: no bound)
	Timeout  time.Duration // per query (5s)
	TLS      *tls.Config   // for tls, https, h3, quic; nil: system roots
	Single   bool          // tcp, tls, quic: one query per write (TLS record, QUIC stream write), as stub resolvers send; false: queries in flight share writes
	Progress io.Writer     // one line per second; nil: none
}

// Error kinds counted in Result.Errors.
const (
	ErrTimeout   = "timeout"    // no answer within Options.Timeout
	ErrIO        = "io"         // the connection failed or was closed
	ErrHTTP      = "http"       // DoH status other than 200
	ErrBadAnswer = "bad_answer" // not a response, or for another question
	ErrTruncated = "truncated"  // TC=1
	ErrOther     = "other"
)

// Result is what a run measured.
type Result struct {
	Transport string
	Sent      int64            // queries sent
	Answered  int64            // valid answers (any RCODE)
	Errors    map[string]int64 // by kind, see Err* constants
	Rcodes    map[string]int64 // RCODEs of valid answers
	Elapsed   time.Duration
	QPS       float64 // answered per second
	P50, P99  time.Duration
	P999, Max time.Duration
}

// Run opens the connections, sends queries until the duration or count is
// reached and returns the measurements. Failing to open a connection is an
// error; failures afterwards are counted in Result.Errors.
func Run(ctx context.Context, o Options) (*Result, error) {
	t, err := parseTarget(o.Server)
	if err != nil {
		return nil, err
	}
	if len(o.Queries) == 0 {
		return nil, errors.New("loadgen: no queries")
	}
	o.Conns, o.Inflight = max(o.Conns, 1), max(o.Inflight, 1)
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Duration <= 0 && o.Count <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.TLS == nil {
		o.TLS = &tls.Config{}
	}
	dial := t.dialer(o.TLS, o.Timeout, o.Single)
	slots := make([]*slot, o.Conns)
	for i := range slots {
		dctx, cancel := context.WithTimeout(ctx, o.Timeout)
		cl, err := dial(dctx)
		cancel()
		if err != nil {
			for _, s := range slots[:i] {
				s.cl.Close()
			}
			return nil, fmt.Errorf("loadgen: connect to %s: %w", o.Server, err)
		}
		slots[i] = &slot{cl: cl, dial: dial}
	}
	defer func() {
		for _, s := range slots {
			s.close()
		}
	}()

	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	r := &runner{o: o, t: t}
	start := time.Now()
	stopProgress := r.progress(start)
	var wg sync.WaitGroup
	workers := o.Conns * o.Inflight
	for w := range workers {
		wg.Go(func() { r.work(ctx, slots[w%o.Conns]) })
	}
	wg.Wait()
	stopProgress()
	return r.result(time.Since(start)), nil
}

// runner holds what the workers share.
type runner struct {
	o        Options
	t        target
	next     atomic.Int64 // queries taken so far; the next one's index
	sent     atomic.Int64
	answered atomic.Int64
	failed   atomic.Int64

	mu     sync.Mutex
	hist   histogram
	errs   map[string]int64
	rcodes [16]int64
}

// take returns the next query, or false once Options.Count are taken.
func (r *runner) take() (*Query, bool) {
	n := r.next.Add(1)
	if r.o.Count > 0 && n > r.o.Count {
		return nil, false
	}
	return &r.o.Queries[(n-1)%int64(len(r.o.Queries))], true
}

// work is one in-flight slot: it sends the next query as soon as the
// previous one is answered.
func (r *runner) work(ctx context.Context, s *slot) {
	var hist histogram
	errs := map[string]int64{}
	var rcodes [16]int64
	for ctx.Err() == nil {
		q, ok := r.take()
		if !ok {
			break
		}
		cl, err := s.get(ctx)
		if err != nil {
			errs[ErrIO]++
			r.failed.Add(1)
			time.Sleep(10 * time.Millisecond) // the server is gone: do not spin
			continue
		}
		begin := time.Now()
		r.sent.Add(1)
		resp, err := cl.Exchange(ctx, q.Wire)
		lat := time.Since(begin)
		if err == nil {
			err = r.check(q, resp)
		}
		if err != nil {
			if ctx.Err() != nil {
				r.sent.Add(-1) // cut off by the end of the run, not a server failure
				break
			}
			kind := classify(err)
			errs[kind]++
			r.failed.Add(1)
			if kind == ErrIO {
				s.broken(cl)
			}
			continue
		}
		hist.record(lat)
		rcodes[resp[3]&0xF]++
		r.answered.Add(1)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hist.merge(&hist)
	if r.errs == nil {
		r.errs = map[string]int64{}
	}
	for k, v := range errs {
		r.errs[k] += v
	}
	for i, v := range rcodes {
		r.rcodes[i] += v
	}
}

// errAnswer is a reply that does not answer the query.
type errAnswer string

func (e errAnswer) Error() string { return string(e) }

// check validates an answer cheaply, on the wire: a response, the same
// question, the expected ID, not truncated.
func (r *runner) check(q *Query, resp []byte) error {
	qEnd := len(q.Wire) - 11 // the packed question ends where the bare OPT record starts
	if len(resp) < qEnd || resp[2]&0x80 == 0 {
		return errAnswer("not a response")
	}
	if r.t.idZero() && binary.BigEndian.Uint16(resp) != 0 {
		return errAnswer("message ID is not 0")
	}
	if string(resp[4:6]) != string(q.Wire[4:6]) || string(resp[12:qEnd]) != string(q.Wire[12:qEnd]) {
		return errAnswer("answer for another question")
	}
	if resp[2]&0x02 != 0 {
		return errTruncated
	}
	return nil
}

var errTruncated = errors.New("truncated answer")

func classify(err error) string {
	var ea errAnswer
	var te interface{ Timeout() bool }
	switch {
	case errors.Is(err, errTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &te) && te.Timeout():
		return ErrTimeout
	case errors.As(err, &ea):
		return ErrBadAnswer
	case errors.Is(err, errTruncated):
		return ErrTruncated
	case errors.Is(err, errHTTPStatus):
		return ErrHTTP
	case errors.Is(err, errBusy):
		return ErrOther
	default:
		return ErrIO
	}
}

// progress prints one line a second until the returned func is called.
func (r *runner) progress(start time.Time) func() {
	if r.o.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		var last int64
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				a := r.answered.Load()
				fmt.Fprintf(r.o.Progress, "%6.1fs  %8d qps  answered %d  errors %d\n",
					now.Sub(start).Seconds(), a-last, a, r.failed.Load())
				last = a
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func (r *runner) result(elapsed time.Duration) *Result {
	res := &Result{
		Transport: r.t.scheme,
		Sent:      r.sent.Load(),
		Answered:  r.answered.Load(),
		Errors:    map[string]int64{},
		Rcodes:    map[string]int64{},
		Elapsed:   elapsed,
		P50:       r.hist.quantile(0.50),
		P99:       r.hist.quantile(0.99),
		P999:      r.hist.quantile(0.999),
		Max:       r.hist.max,
	}
	for k, v := range r.errs {
		res.Errors[k] = v
	}
	for i, v := range r.rcodes {
		if v > 0 {
			res.Rcodes[dns.RcodeToString[i]] = v
		}
	}
	if elapsed > 0 {
		res.QPS = float64(res.Answered) / elapsed.Seconds()
	}
	return res
}

// slot is one connection shared by its in-flight workers; a broken
// connection is replaced on next use.
type slot struct {
	mu   sync.Mutex
	cl   client
	dial func(context.Context) (client, error)
}

func (s *slot) get(ctx context.Context) (client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl == nil {
		cl, err := s.dial(ctx)
		if err != nil {
			return nil, err
		}
		s.cl = cl
	}
	return s.cl, nil
}

func (s *slot) broken(cl client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl == cl {
		cl.Close()
		s.cl = nil
	}
}

func (s *slot) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl != nil {
		s.cl.Close()
		s.cl = nil
	}
}
