package doq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/testpki"
	"github.com/dnsward/dnsward/resolver"
)

// sizedHandler answers "s<N>.example." with a TXT answer whose frame (prefix
// included) is exactly N bytes.
var sizedHandler = resolver.HandlerFunc(func(_ context.Context, req *resolver.Request) (*dns.Msg, error) {
	var want int
	if _, err := fmt.Sscanf(req.Msg.Question[0].Name, "s%d.example.", &want); err != nil {
		return nil, err
	}
	m := resolver.NewReply(req.Msg, dns.RcodeSuccess)
	m.Compress = true // as frontend.Finish sends it
	txt := &dns.TXT{Hdr: dns.RR_Header{Name: req.Msg.Question[0].Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}}
	m.Answer = append(m.Answer, txt)
	b, err := m.Pack()
	if err != nil {
		return nil, err
	}
	for extra := want - 2 - len(b); extra > 0; { // each string costs 1 + its length
		n := min(extra-1, 255)
		txt.Txt = append(txt.Txt, strings.Repeat("x", n))
		extra -= 1 + n
	}
	return m, nil
})

// TestAnswerSizes: answers on both sides of MaxBatched (written by the
// connection's batch writer, or by their stream's goroutine) arrive whole,
// each on its own stream, when written at the same time on one connection.
func TestAnswerSizes(t *testing.T) {
	f := start(t, func(c *Config) { c.Handler = sizedHandler })
	c := f.dial(t, "dns.test")
	sizes := []int{100, MaxBatched - 1, MaxBatched, MaxBatched + 1, 2 * MaxBatched, 20000}
	var wg sync.WaitGroup
	for round := range 5 {
		for _, size := range sizes {
			wg.Go(func() {
				name := fmt.Sprintf("s%d.example.", size)
				frame, _ := frontend.Pack(query(name, dns.TypeTXT), nil)
				out, err := exchangeRaw(c, frame, true)
				if err != nil {
					t.Errorf("round %d, %d bytes: %v", round, size, err)
					return
				}
				var m dns.Msg
				if len(out) != size || int(out[0])<<8|int(out[1]) != size-2 || m.Unpack(out[2:]) != nil {
					t.Errorf("round %d: got a %d-byte frame, want %d", round, len(out), size)
					return
				}
				if m.Question[0].Name != name {
					t.Errorf("round %d: answer for %s on the stream of %s", round, m.Question[0].Name, name)
				}
			})
		}
	}
	wg.Wait()
}

// TestShutdownAnswersInFlight: queries in flight when Shutdown starts are
// answered (through the batch writer, which Shutdown waits for) before the
// connection is closed.
func TestShutdownAnswersInFlight(t *testing.T) {
	f := start(t, nil) // "slow" names are answered after 100 ms
	c := f.dial(t, "dns.test")
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() {
			frame, _ := frontend.Pack(query(fmt.Sprintf("slow%d.example.", i), dns.TypeA), nil)
			_, err := exchangeRaw(c, frame, true)
			errs <- err
		}()
	}
	time.Sleep(30 * time.Millisecond) // the queries reach the server and wait on the upstream
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if closeCode(t, c) != NoError {
		t.Fatal("not closed with DOQ_NO_ERROR")
	}
}

// TestBatchWriterCancelCode: a message whose write fails resets its stream
// with the code the writer was made with: DoQ's DOQ_REQUEST_CANCELLED for
// DoQ, H3_REQUEST_CANCELLED for the DoH/3 engine that shares the writer.
func TestBatchWriterCancelCode(t *testing.T) {
	pki := testpki.New(t, "dns.test")
	srvTLS := pki.Server.Clone()
	srvTLS.NextProtos = []string{ALPN}
	ln, err := quic.ListenAddr("127.0.0.1:0", srvTLS, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	for _, code := range []quic.StreamErrorCode{RequestCancelled, 0x010c} {
		t.Run(fmt.Sprintf("%#x", code), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := quic.DialAddr(ctx, ln.Addr().String(), pki.Client("dns.test", ALPN), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseWithError(0, "")
			sc, err := ln.Accept(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer sc.CloseWithError(0, "")
			cs, err := c.OpenStream()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cs.Write([]byte{0, 1, 'q'}); err != nil {
				t.Fatal(err)
			}
			ss, err := sc.AcceptStream(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_ = ss.SetWriteDeadline(time.Now().Add(-time.Second)) // the write fails
			w := NewBatchWriter(code)
			w.Add(ss, []byte{0, 1, 'a'})
			w.Close()
			_ = cs.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, err = io.ReadAll(cs)
			var se *quic.StreamError
			if !errors.As(err, &se) || se.ErrorCode != code {
				t.Fatalf("client read: %v, want a reset with %#x", err, code)
			}
		})
	}
}
