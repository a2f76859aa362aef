package upstream

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
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

// TestUDPLateAnswer: an answer to the first copy that comes after the
// resend still counts (the first socket keeps listening), so an upstream
// slower than half the timeout is answered.
func TestUDPLateAnswer(t *testing.T) {
	var n atomic.Int32
	s := startUDP(t, listenUDP(t), func(q *dns.Msg) *dns.Msg {
		if n.Add(1) > 1 {
			return nil // the resent copy is never answered
		}
		time.Sleep(700 * time.Millisecond)
		return answerA(q)
	})
	opts := testOptions()
	opts.Timeout = time.Second // resend at 500 ms
	u := newUpstream(t, s.addr, opts)
	q := query("late.test.", 8)
	r, err := u.Exchange(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	checkAnswer(t, q, r)
	if got := n.Load(); got != udpAttempts {
		t.Errorf("the upstream got %d copies, want %d", got, udpAttempts)
	}
}
