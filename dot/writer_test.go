package dot

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/frontend"
)

// TestBatchWriter: concurrent answers arrive whole and each exactly once,
// and once the connection fails every writer gets the error.
func TestBatchWriter(t *testing.T) {
	srv, cli := net.Pipe()
	w := newBatchWriter(srv, time.Second)
	const n = 500
	got := make(chan []byte, n)
	go func() {
		br := bufio.NewReader(cli)
		for range n {
			f, err := frontend.ReadFrame(br, nil)
			if err != nil {
				close(got)
				return
			}
			got <- f
		}
	}()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			msg := make([]byte, 12+i%50)
			msg[0], msg[1] = byte(i>>8), byte(i)
			frame, _ := frontend.AppendFrame(nil, msg)
			if err := w.write(frame); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := map[int]bool{}
	for range n {
		f, ok := <-got
		if !ok {
			t.Fatal("stream ended early")
		}
		id := int(f[0])<<8 | int(f[1])
		if seen[id] || len(f) != 12+id%50 {
			t.Fatalf("frame %d: repeated or wrong length %d", id, len(f))
		}
		seen[id] = true
	}
	cli.Close()
	if err := w.write([]byte{0, 1, 0}); err == nil {
		t.Fatal("write after the peer closed succeeded")
	}
	if err := w.write([]byte{0, 1, 0}); err == nil {
		t.Fatal("the failure was not kept")
	}
}

// TestBatchWriterLargeBatches: a batch too large to keep as the spare buffer
// (pipelined 40 KB answers) never leaves the pending and spare buffers sharing
// an array, so every frame arrives intact while 100 B answers keep being
// appended during writes. Run with -race.
func TestBatchWriterLargeBatches(t *testing.T) {
	srv, cli := net.Pipe()
	w := newBatchWriter(srv, 5*time.Second)
	// Each writer sends its frames one after the other, so new answers keep
	// arriving while earlier batches are being written.
	writers := []struct{ size, count int }{{40 << 10, 30}, {40 << 10, 30}, {100, 300}, {100, 300}, {100, 300}, {100, 300}}
	total := 0
	for _, wr := range writers {
		total += wr.count
	}
	errs := make(chan error, 1)
	go func() {
		defer cli.Close() // a failure fails the writers at once
		br := bufio.NewReader(cli)
		seen := map[int]bool{}
		for range total {
			f, err := frontend.ReadFrame(br, nil)
			if err != nil {
				errs <- err
				return
			}
			id := int(f[0])<<8 | int(f[1])
			if wi := id / 1000; seen[id] || wi >= len(writers) || len(f) != writers[wi].size {
				errs <- fmt.Errorf("frame %d: repeated, unknown or wrong length %d", id, len(f))
				return
			}
			for j, b := range f[2:] {
				if b != byte(id+j) {
					errs <- fmt.Errorf("frame %d (%d bytes): byte %d corrupted", id, len(f), j+2)
					return
				}
			}
			seen[id] = true
		}
		errs <- nil
	}()
	var wg sync.WaitGroup
	for wi, wr := range writers {
		wg.Go(func() {
			for k := range wr.count {
				id := wi*1000 + k
				msg := make([]byte, wr.size)
				msg[0], msg[1] = byte(id>>8), byte(id)
				for j := range msg[2:] {
					msg[j+2] = byte(id + j)
				}
				frame, _ := frontend.AppendFrame(nil, msg)
				if err := w.write(frame); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// TestAddBoundedWhileWriteBlocked: while a write is stuck on a client that
// does not read, the read loop's replayed answers stop piling up at
// maxPending (add waits), and the write timeout then fails them all.
func TestAddBoundedWhileWriteBlocked(t *testing.T) {
	srv, cli := net.Pipe() // nobody reads cli: every Write blocks
	defer cli.Close()
	w := newBatchWriter(srv, 300*time.Millisecond)
	go w.write([]byte{0, 2, 0xAB, 0xCD}) // an answering goroutine leads and blocks
	time.Sleep(50 * time.Millisecond)
	ans := make([]byte, 1500)
	var err error
	added := 0
	for ; added < 20000 && err == nil; added++ {
		err = w.add(ans)
	}
	if err == nil {
		t.Fatalf("%d answers added to a connection whose writes are stuck", added)
	}
	w.mu.Lock()
	n := len(w.pending)
	w.mu.Unlock()
	if n > maxPending+len(ans)+2 {
		t.Fatalf("pending grew to %d bytes, bound %d", n, maxPending)
	}
}

// countingConn counts the writes made on a connection.
type countingConn struct {
	net.Conn
	writes int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes++
	return c.Conn.Write(p)
}

// TestBatchWriterOneWritePerBatch: answers added on the read loop leave
// together, framed, in one write at the flush (README: a batch's answers
// with one system call).
func TestBatchWriterOneWritePerBatch(t *testing.T) {
	srv, cli := net.Pipe()
	defer cli.Close()
	conn := &countingConn{Conn: srv}
	w := newBatchWriter(conn, time.Second)
	const n = 10
	for i := range n {
		if err := w.add([]byte{byte(i), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}); err != nil {
			t.Fatal(err)
		}
	}
	if conn.writes != 0 {
		t.Fatalf("%d writes before the flush", conn.writes)
	}
	done := make(chan error, 1)
	go func() { done <- w.flush() }()
	br := bufio.NewReader(cli)
	for i := range n {
		f, err := frontend.ReadFrame(br, nil)
		if err != nil || len(f) != 12 || f[0] != byte(i) {
			t.Fatalf("answer %d: %x %v", i, f, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if conn.writes != 1 {
		t.Fatalf("%d answers left in %d writes, want 1", n, conn.writes)
	}
}
