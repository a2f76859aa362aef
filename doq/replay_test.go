package doq

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/frontendtest"
)

// TestReplayedAnswers sends repeats of one question, spelt in several ways,
// on concurrent streams after a first answer: they are answered from the
// replayed bytes, each with the client's spelling and ID 0, and only the
// first takes the chain.
func TestReplayedAnswers(t *testing.T) {
	h := frontendtest.NewCounting(t)
	f := start(t, func(c *Config) { c.Handler = h })
	c := f.dial(t, "dns.test")
	exchange(t, c, query("n1.example.", dns.TypeA))
	const n = 60
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			name := "n1.example."
			if i%2 == 1 {
				name = strings.ToUpper(name)
			}
			a := exchange(t, c, query(name, dns.TypeA))
			switch {
			case a.Id != 0:
				errs <- fmt.Errorf("ID %d, want 0", a.Id)
			case a.Question[0].Name != name:
				errs <- fmt.Errorf("question %q, want the client's spelling %q", a.Question[0].Name, name)
			case len(a.Answer) != 1 || a.Answer[0].(*dns.A).A.String() != frontendtest.AddrFor("n1.example.").String():
				errs <- fmt.Errorf("answer %v", a.Answer)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A second may pass between the first answer and the repeats, ending
	// what replay keeps; at most one more query then takes the chain.
	if got := h.Full.Load(); got > 2 {
		t.Errorf("%d queries took the full chain, want 1 (2 at a second's boundary)", got)
	}
}
