package upstream

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestUDPTruncatedRetriesTCP: a TC=1 UDP answer, or one larger than the
// query allows (here 512 bytes, no EDNS), is retried over TCP on the same
// address, and a truncated answer is never returned.
func TestUDPTruncatedRetriesTCP(t *testing.T) {
	truncated := func(q *dns.Msg) *dns.Msg {
		r := new(dns.Msg)
		r.SetReply(q)
		r.Truncated = true
		return r
	}
	oversized := func(q *dns.Msg) *dns.Msg {
		r := answerA(q)
		r.Extra = append(r.Extra, &dns.TXT{
			Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60},
			Txt: []string{strings.Repeat("x", 255), strings.Repeat("y", 255)},
		})
		return r
	}
	for _, tt := range []struct {
		name string
		udp  answerFunc
	}{{"truncated", truncated}, {"oversized", oversized}} {
		t.Run(tt.name+", tcp answers", func(t *testing.T) {
			pc, ln := listenPair(t)
			udp := startUDP(t, pc, tt.udp)
			tcp := startStream(t, ln, answerA)
			u := newUpstream(t, "udp://"+udp.addr, testOptions())
			q := query("big.test.", 99)
			r, err := u.Exchange(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			checkAnswer(t, q, r)
			if udp.hits.Load() != 1 || tcp.hits.Load() != 1 {
				t.Errorf("udp hits %d, tcp hits %d; want 1 each", udp.hits.Load(), tcp.hits.Load())
			}
		})
	}
	t.Run("no tcp", func(t *testing.T) {
		udp := startUDP(t, listenUDP(t), truncated)
		u := newUpstream(t, "udp://"+udp.addr, testOptions())
		r, err := u.Exchange(context.Background(), query("big.test.", 99))
		if err == nil {
			t.Fatalf("got %v, want an error when TCP is refused", r)
		}
		if !errors.Is(err, ErrNetwork) {
			t.Errorf("error %v, want ErrNetwork", err)
		}
	})
}

// spoofer answers each query with forged replies first: wrong ID, wrong
// question, a query instead of a response, garbage; then, unless onlySpoofed,
// the real answer.
func spoofer(t *testing.T, onlySpoofed bool) string {
	t.Helper()
	pc := listenUDP(t)
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:n]) != nil {
				continue
			}
			wrongID := answerA(q)
			wrongID.Id = q.Id + 1
			wrongQ := answerA(q)
			wrongQ.Question[0].Name = "evil.test."
			notResponse := answerA(q)
			notResponse.Response = false
			forged := []*dns.Msg{wrongID, wrongQ, notResponse}
			if !onlySpoofed {
				forged = append(forged, answerA(q))
			}
			_, _ = pc.WriteTo([]byte{0xde, 0xad}, from)
			for _, m := range forged {
				out, _ := m.Pack()
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

func TestUDPIgnoresSpoofedReplies(t *testing.T) {
	t.Run("real answer follows", func(t *testing.T) {
		u := newUpstream(t, spoofer(t, false), testOptions())
		for i := range 5 {
			q := query("spoof.test.", uint16(i))
			r, err := u.Exchange(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			checkAnswer(t, q, r)
		}
	})
	t.Run("only forgeries", func(t *testing.T) {
		opts := testOptions()
		opts.Timeout = 300 * time.Millisecond
		u := newUpstream(t, spoofer(t, true), opts)
		r, err := u.Exchange(context.Background(), query("spoof.test.", 1))
		var ue *Error
		if !errors.As(err, &ue) || ue.Kind != KindTimeout {
			t.Fatalf("got %v, %v; want a timeout", r, err)
		}
	})
}

// TestUDPRefused: a closed port fails fast with a network error.
func TestUDPRefused(t *testing.T) {
	pc := listenUDP(t)
	addr := pc.LocalAddr().String()
	pc.Close()
	u := newUpstream(t, addr, testOptions())
	_, err := u.Exchange(context.Background(), query("refused.test.", 1))
	var ue *Error
	var oe *net.OpError
	if !errors.As(err, &ue) || ue.Kind != KindNetwork || !errors.As(err, &oe) {
		t.Fatalf("got %v, want a network *Error wrapping the socket error", err)
	}
}

// TestUDPResend: a lost datagram is sent again from a new source port with a
// new ID within the same timeout.
func TestUDPResend(t *testing.T) {
	pc := listenUDP(t)
	t.Cleanup(func() { pc.Close() })
	type seen struct {
		id   uint16
		from string
	}
	queries := make(chan seen, 4)
	go func() {
		buf := make([]byte, 65535)
		for n := 0; ; n++ {
			size, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:size]) != nil {
				continue
			}
			queries <- seen{q.Id, from.String()}
			if n == 0 {
				continue // drop the first datagram
			}
			out, _ := answerA(q).Pack()
			_, _ = pc.WriteTo(out, from)
		}
	}()
	opts := testOptions()
	opts.Timeout = time.Second
	u := newUpstream(t, pc.LocalAddr().String(), opts)
	q := query("resend.test.", 4)
	r, err := u.Exchange(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	checkAnswer(t, q, r)
	first, second := <-queries, <-queries
	if first.from == second.from {
		t.Errorf("both attempts came from %s, want a fresh source port", first.from)
	}
	if first.id == second.id {
		// one chance in 65536 of a false alarm
		t.Errorf("both attempts used ID %d, want a fresh random ID", first.id)
	}
}

// TestUDPPendingHeap: exchanges waiting on an upstream that never answers
// hold small buffers: 1,024 of them pending grow the heap by less than
// 10 MB (a 64 KiB buffer each used to make it 67 MB).
func TestUDPPendingHeap(t *testing.T) {
	const pending, batch = 1024, 64
	hole := startUDP(t, listenUDP(t), silent)
	opts := testOptions()
	opts.Timeout = time.Minute
	u := newUpstream(t, hole.addr, opts)
	before := heapAlloc()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	// In batches, each sent before the next, so that no query is lost in
	// the blackhole's socket buffer before it is counted.
	for i := 0; i < pending; i += batch {
		for j := range batch {
			wg.Go(func() { _, _ = u.Exchange(ctx, query("hole.test.", uint16(i+j))) })
		}
		deadline := time.Now().Add(5 * time.Second)
		for hole.hits.Load() < int64(i+batch) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := hole.hits.Load(); n < int64(i+batch) {
			t.Fatalf("the blackhole got %d of %d queries", n, i+batch)
		}
	}
	growth := int64(heapAlloc()) - int64(before)
	t.Logf("%d pending exchanges: heap %+.1f MB", pending, float64(growth)/1e6)
	if growth > 10<<20 {
		t.Errorf("heap grew %.1f MB with %d exchanges pending, want ≤ 10 MB", float64(growth)/1e6, pending)
	}
}

// heapAlloc is the live heap after a full collection.
func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
