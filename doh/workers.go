package doh

import (
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
)

// A new goroutine starts with a small stack; decoding, the resolver chain
// and packing run deep enough that the runtime grows (copies) that stack on
// nearly every request, which cost more CPU than the rest of the handler.
// So requests run on a few long-lived workers whose stacks have grown once:
// handing a request over costs two goroutine switches. When no worker is
// idle (all waiting on upstreams, say) the request runs on a goroutine of
// its own.

// maxWorkers bounds the workers, shared by every Handler in the process.
// HTTP/2 hands every request to a worker without waiting for it, so the
// pool is sized for the requests in flight on many connections at once, not
// for the CPUs: a worker parked on the channel costs only its stack, which
// the garbage collector shrinks when idle, while a new goroutine per request
// pays for growing one.
var maxWorkers = int32(max(256, 32*runtime.GOMAXPROCS(0)))

var (
	jobs     = make(chan job) // unbuffered: a send succeeds only with an idle worker
	workers  atomic.Int32
	callPool = sync.Pool{New: func() any { return &workCall{done: make(chan any, 1)} }}
)

// job is work a worker runs; Run must not panic.
type job interface{ Run() }

// dispatch hands j to an idle worker, or to a new one while there are fewer
// than maxWorkers; false means neither was available and j did not run.
func dispatch(j job) bool {
	select {
	case jobs <- j:
		return true
	default:
	}
	if workers.Add(1) > maxWorkers {
		workers.Add(-1)
		return false
	}
	go work(j)
	return true
}

// work runs j, then every job sent to it, forever.
func work(j job) {
	for {
		j.Run()
		j = <-jobs
	}
}

// workCall is one HTTP/1.1 or HTTP/3 request handed to a worker by a
// goroutine that waits for it; done carries a recovered panic, or nil.
type workCall struct {
	h    *Handler
	w    http.ResponseWriter
	r    *http.Request
	done chan any
}

// onWorker runs h.serveHTTP(w, r) on a worker, or else on the calling
// goroutine, and returns when it is done. A panic is re-raised on the
// calling goroutine, where net/http and quic-go expect it.
func (h *Handler) onWorker(w http.ResponseWriter, r *http.Request) {
	c := callPool.Get().(*workCall)
	c.h, c.w, c.r = h, w, r
	if !dispatch(c) {
		c.h, c.w, c.r = nil, nil, nil
		callPool.Put(c)
		h.serveHTTP(w, r)
		return
	}
	p := <-c.done
	callPool.Put(c)
	if p != nil {
		panic(p)
	}
}

// Run serves the call and reports a recovered panic, or nil, on done.
func (c *workCall) Run() { c.done <- c.serve() }

func (c *workCall) serve() (p any) {
	defer func() { p = recover() }()
	h, w, r := c.h, c.w, c.r
	c.h, c.w, c.r = nil, nil, nil
	h.serveHTTP(w, r)
	return nil
}
