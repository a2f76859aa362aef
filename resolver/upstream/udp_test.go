package upstream

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestUDPTruncatedRetriesTCP: a TC=1 UDP answer is retried over TCP on the
// same address, and a truncated answer is never returned.
func TestUDPTruncatedRetriesTCP(t *testing.T) {
	truncated := func(q *dns.Msg) *dns.Msg {
		r := new(dns.Msg)
		r.SetReply(q)
		r.Truncated = true
		return r
	}
	t.Run("tcp answers", func(t *testing.T) {
		pc, ln := listenPair(t)
		udp := startUDP(t, pc, truncated)
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

// TestTimeouts: silent servers of every protocol time out with KindTimeout
// (ErrNoReachableAuthority); a cancelled caller gets its own error.
func TestTimeouts(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"udp", func(t *testing.T) string { return "udp://" + listenUDP(t).LocalAddr().String() }},
		{"tcp", func(t *testing.T) string { return "tcp://" + startStream(t, listenTCP(t), silent).addr }},
		{"tls", func(t *testing.T) string {
			return "tls://" + startStream(t, tlsListen(t), silent).addr + "#" + testServerName
		}},
		{"https", func(t *testing.T) string {
			return startDoH(t, silent).url
		}},
		{"quic", func(t *testing.T) string { return "quic://" + startDoQ(t, silent).addr }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.start(t)
			opts := testOptions()
			opts.Timeout = 200 * time.Millisecond
			u := newUpstream(t, url, opts)

			r, err := u.Exchange(context.Background(), query("slow.test.", 1))
			var ue *Error
			if !errors.As(err, &ue) || ue.Kind != KindTimeout || !errors.Is(err, ErrNoReachableAuthority) {
				t.Fatalf("options timeout: got %v, %v; want a timeout *Error", r, err)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if _, err := u.Exchange(ctx, query("slow.test.", 2)); !errors.As(err, &ue) || ue.Kind != KindTimeout {
				t.Fatalf("context deadline: got %v, want a timeout *Error", err)
			}

			ctx, cancel = context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
			_, err = u.Exchange(ctx, query("slow.test.", 3))
			if !errors.Is(err, context.Canceled) || errors.As(err, &ue) {
				t.Fatalf("cancelled: got %v, want context.Canceled and no *Error", err)
			}
		})
	}
}

// TestReconnect: after the server drops its connections the next query
// dials again; idle connections are closed by the client.
func TestReconnect(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		s := startStream(t, listenTCP(t), answerA)
		u := newUpstream(t, "tcp://"+s.addr, testOptions())
		for i := range 3 {
			q := query("again.test.", uint16(i))
			r, err := u.Exchange(context.Background(), q)
			if err != nil {
				t.Fatalf("query %d: %v", i, err)
			}
			checkAnswer(t, q, r)
			s.dropAll()
		}
		if n := s.conns.Load(); n != 3 {
			t.Errorf("%d connections, want 3", n)
		}
	})
	t.Run("tcp lost while reused", func(t *testing.T) {
		// The server closes each connection when its second query arrives:
		// the client cannot know before writing, and retries once.
		s := startStreamLimited(t, listenTCP(t), answerA, 1)
		u := newUpstream(t, "tcp://"+s.addr, testOptions())
		for i := range 3 {
			q := query("lost.test.", uint16(i))
			r, err := u.Exchange(context.Background(), q)
			if err != nil {
				t.Fatalf("query %d: %v", i, err)
			}
			checkAnswer(t, q, r)
		}
		if n := s.conns.Load(); n != 3 {
			t.Errorf("%d connections, want 3", n)
		}
	})
	t.Run("quic", func(t *testing.T) {
		s := startDoQ(t, answerA)
		u := newUpstream(t, "quic://"+s.addr, testOptions())
		for i := range 3 {
			q := query("again.test.", uint16(i))
			r, err := u.Exchange(context.Background(), q)
			if err != nil {
				t.Fatalf("query %d: %v", i, err)
			}
			checkAnswer(t, q, r)
			s.dropAll()
		}
		if n := s.conns.Load(); n != 3 {
			t.Errorf("%d connections, want 3", n)
		}
	})
	t.Run("idle close", func(t *testing.T) {
		s := startStream(t, listenTCP(t), answerA)
		opts := testOptions()
		opts.IdleTimeout = 100 * time.Millisecond
		u := newUpstream(t, "tcp://"+s.addr, opts)
		if _, err := u.Exchange(context.Background(), query("idle.test.", 1)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.closed:
		case <-time.After(5 * time.Second):
			t.Fatal("client kept an idle connection open for 5s with a 100ms idle timeout")
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
