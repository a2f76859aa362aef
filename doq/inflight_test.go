package doq

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/quic-go/quic-go"

	"github.com/dnsward/dnsward/internal/frontend"
)

// TestSilentStreamsHoldNoInflightSlot: streams that never send their query
// do not count against MaxInflight, so they cannot push other clients into
// DOQ_EXCESSIVE_LOAD while they wait out StreamTimeout.
func TestSilentStreamsHoldNoInflightSlot(t *testing.T) {
	f := start(t, func(c *Config) {
		c.MaxInflight = 2
		c.StreamTimeout = 10 * time.Second // longer than the test
	})
	idle := f.dial(t, "dns.test")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 4 {
		str, err := idle.OpenStreamSync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := str.Write([]byte{0}); err != nil { // half a length prefix, then nothing
			t.Fatal(err)
		}
	}
	c := f.dial(t, "dns.test")
	frame, err := frontend.Pack(query("busy.example.", dns.TypeA), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		_, err := exchangeRaw(c, frame, true)
		var serr *quic.StreamError
		if errors.As(err, &serr) && serr.ErrorCode == ExcessiveLoad {
			t.Fatalf("query %d: DOQ_EXCESSIVE_LOAD while the only other streams are silent", i)
		}
		if err != nil {
			t.Fatalf("query %d: %v", i, err)
		}
	}
}
