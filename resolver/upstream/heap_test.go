package upstream

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestPendingHeap: exchanges waiting on an upstream that never answers hold
// small buffers, not a pooled 64 KiB one each (which made 1,024 pending UDP
// exchanges grow the heap by 77 MB, and 100 DoQ ones by 8 MB).
func TestPendingHeap(t *testing.T) {
	tests := []struct {
		name    string
		pending int // DoQ: quic-go's default limit of streams per connection
		maxMB   float64
		start   func(t *testing.T, seen *atomic.Int64) string
	}{
		{"udp", 1024, 10, func(t *testing.T, seen *atomic.Int64) string {
			return "udp://" + startUDP(t, listenUDP(t), counting(seen)).addr
		}},
		{"doq", 100, 3, func(t *testing.T, seen *atomic.Int64) string {
			return "quic://" + startDoQ(t, counting(seen)).addr + "#" + testServerName
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const batch = 50
			var seen atomic.Int64
			opts := testOptions()
			opts.Timeout = time.Minute
			u := newUpstream(t, tt.start(t, &seen), opts)
			before := heapAlloc()
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			defer func() { cancel(); wg.Wait() }()
			// In batches, each seen by the server before the next, so that
			// no query is lost in a socket buffer before it is counted.
			for sent := 0; sent < tt.pending; {
				for range min(batch, tt.pending-sent) {
					wg.Go(func() { _, _ = u.Exchange(ctx, query("hole.test.", 1)) })
					sent++
				}
				deadline := time.Now().Add(5 * time.Second)
				for seen.Load() < int64(sent) && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
				if n := seen.Load(); n < int64(sent) {
					t.Fatalf("the server got %d of %d queries", n, sent)
				}
			}
			growth := float64(int64(heapAlloc())-int64(before)) / 1e6
			t.Logf("%d pending exchanges: heap %+.1f MB", tt.pending, growth)
			if growth > tt.maxMB {
				t.Errorf("heap grew %.1f MB with %d exchanges pending, want ≤ %v MB", growth, tt.pending, tt.maxMB)
			}
		})
	}
}

// counting is a server that counts the queries it reads and never answers.
func counting(seen *atomic.Int64) answerFunc {
	return func(*dns.Msg) *dns.Msg {
		seen.Add(1)
		return nil
	}
}

// heapAlloc is the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
