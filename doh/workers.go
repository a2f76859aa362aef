package doh

import (
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
)

// Every HTTP/2 and HTTP/3 stream gets a new goroutine, which starts with a
// small stack; decoding, the resolver chain and packing run deep enough that
// the runtime grows (copies) that stack on nearly every request, which
// cost more CPU than the rest of the handler. So requests run on a few
// long-lived workers whose stacks have grown once: handing a request over
// costs two goroutine switches. When no worker is idle (all waiting on
// upstreams, say) the request runs on its own goroutine as before.

// maxWorkers bounds the workers, shared by every Handler in the process.
var maxWorkers = int32(4 * runtime.GOMAXPROCS(0))

var (
	workCalls = make(chan *workCall) // unbuffered: a send succeeds only with an idle worker
	workers   atomic.Int32
	callPool  = sync.Pool{New: func() any { return &workCall{done: make(chan any, 1)} }}
)

// workCall is one request handed to a worker; done carries a recovered
// panic, or nil.
type workCall struct {
	h    *Handler
	w    http.ResponseWriter
	r    *http.Request
	done chan any
}

// onWorker runs h.serveHTTP(w, r) on an idle worker, a new one while there
// are fewer than maxWorkers, or else on the calling goroutine. A panic is
// re-raised on the calling goroutine, where net/http expects it.
func (h *Handler) onWorker(w http.ResponseWriter, r *http.Request) {
	c := callPool.Get().(*workCall)
	c.h, c.w, c.r = h, w, r
	select {
	case workCalls <- c:
	default:
		if n := workers.Add(1); n > maxWorkers {
			workers.Add(-1)
			c.h, c.w, c.r = nil, nil, nil
			callPool.Put(c)
			h.serveHTTP(w, r)
			return
		}
		go work(c)
	}
	p := <-c.done
	callPool.Put(c)
	if p != nil {
		panic(p)
	}
}

// work serves c, then every call sent to it, forever.
func work(c *workCall) {
	for {
		c.done <- c.run()
		c = <-workCalls
	}
}

// run serves the call and returns a recovered panic, or nil.
func (c *workCall) run() (p any) {
	defer func() { p = recover() }()
	h, w, r := c.h, c.w, c.r
	c.h, c.w, c.r = nil, nil, nil
	h.serveHTTP(w, r)
	return nil
}
