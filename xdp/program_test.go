package xdp

import (
	"os"
	"testing"

	"github.com/dnsward/dnsward/ratelimit"
)

const (
	xdpDrop = 1
	xdpPass = 2
	xdpTX   = 3
)

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("loading XDP programs needs root (CAP_BPF, CAP_NET_ADMIN); CI runs as root")
	}
}

// testFilter loads the program with l, unattached.
func testFilter(t testing.TB, l ratelimit.Limits) *Filter {
	t.Helper()
	needRoot(t)
	cfg := Config{Interfaces: []string{"lo"}, Limits: l}
	cfg, _, err := cfg.normalize()
	if err != nil {
		t.Fatal(err)
	}
	f, err := open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// run runs the program once on frame and returns its verdict and output.
func run(t testing.TB, f *Filter, frame []byte) (uint32, []byte) {
	t.Helper()
	ret, out, err := f.objs.DnswardXdp.Test(frame)
	if err != nil {
		t.Fatal(err)
	}
	return ret, out
}

func TestProgramLoads(t *testing.T) {
	f := testFilter(t, ratelimit.Limits{QPS: 1, Burst: 2})
	ret, _ := run(t, f, udpTo("192.0.2.1", "192.0.2.53").build())
	if ret != xdpPass {
		t.Fatalf("ret %d", ret)
	}
}
