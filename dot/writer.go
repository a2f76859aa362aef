package dot

import (
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/dnsward/dnsward/internal/frontend"
)

// maxPending bounds the replayed answers buffered for one connection.
const maxPending = 64 << 10

// batchWriter coalesces answers that complete while a write is in progress
// into the next write: one TLS record and one syscall for many answers. The
// first writer to arrive writes (the leader); the others append their frame
// and wait until a write has carried it, so a client that does not read still
// holds every answering goroutine and, through them, the in-flight bound.
type batchWriter struct {
	conn    net.Conn
	timeout time.Duration

	mu       sync.Mutex
	cond     sync.Cond
	pending  []byte // frames for the next write
	spare    []byte // the buffer of the previous write, reused
	batch    uint64 // number of the batch pending belongs to
	written  uint64 // batches below this are written (or failed)
	flushing bool
	err      error
}

func newBatchWriter(conn net.Conn, timeout time.Duration) *batchWriter {
	w := &batchWriter{conn: conn, timeout: timeout}
	w.cond.L = &w.mu
	return w
}

// write sends one framed answer; it returns once a write carried it, or with
// the error that ended the connection's writes.
func (w *batchWriter) write(frame []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.pending = append(w.pending, frame...)
	if w.flushing {
		mine := w.batch
		for w.written <= mine && w.err == nil {
			w.cond.Wait()
		}
		return w.err
	}
	w.flushing = true
	// Let answers that are ready to run append theirs first: a syscall costs
	// far more than a yield.
	w.mu.Unlock()
	runtime.Gosched()
	w.mu.Lock()
	w.drain()
	return w.err
}

// add appends one answer, framed, for the next write without waiting for
// it: the read loop's replayed answers, sent by flush or by a write under
// way. Beyond maxPending bytes it waits for (or does) a write, so that a
// client that does not read stops the read loop instead of filling memory.
func (w *batchWriter) add(msg []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.pending, _ = frontend.AppendFrame(w.pending, msg) // replayed answers are small
	for len(w.pending) >= maxPending && w.err == nil {
		if !w.flushing {
			w.flushing = true
			w.drain()
			break
		}
		w.cond.Wait()
	}
	return w.err
}

// flush writes what is pending, unless a write under way will.
func (w *batchWriter) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || w.flushing || len(w.pending) == 0 {
		return w.err
	}
	w.flushing = true
	w.drain()
	return w.err
}

// drain writes batches until nothing is pending; w.mu is held and flushing set.
func (w *batchWriter) drain() {
	for len(w.pending) > 0 && w.err == nil {
		buf, n := w.pending, w.batch
		w.pending, w.batch = w.spare[:0], w.batch+1
		w.mu.Unlock()
		w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
		_, err := w.conn.Write(buf)
		w.mu.Lock()
		// Keep buf for reuse unless it grew large; either way spare must
		// stop naming the array that became pending above.
		if cap(buf) <= 64<<10 {
			w.spare = buf[:0]
		} else {
			w.spare = nil
		}
		w.written = n + 1
		if err != nil {
			w.err = err
		}
		w.cond.Broadcast()
	}
	w.flushing = false
}

// failed reports whether a write failed, ending the connection's writes.
func (w *batchWriter) failed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil
}
