package dot

import (
	"bufio"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/dnsward/dnsward/dot/framing"
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
			f, err := framing.ReadFrame(br, nil)
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
			frame, _ := framing.AppendFrame(nil, msg)
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
