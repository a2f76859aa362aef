package doq

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/frontend"
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
