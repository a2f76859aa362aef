package xdp

import (
	"strings"
	"testing"

	"github.com/dnsward/dnsward/internal/netnstest"
	"github.com/dnsward/dnsward/ratelimit"
)

func TestAttachConfigErrors(t *testing.T) {
	ok := ratelimit.Limits{QPS: 1000, Burst: 2000}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no interfaces", Config{Limits: ok}, "xdp.interfaces: at least one interface"},
		{"missing interface", Config{Interfaces: []string{"lo", "dwx-nonexistent"}, Limits: ok}, `xdp.interfaces[1]: "dwx-nonexistent"`},
		{"bad mode", Config{Interfaces: []string{"lo"}, Mode: "offload", Limits: ok}, `xdp.mode: "offload"`},
		{"zero qps", Config{Interfaces: []string{"lo"}, Limits: ratelimit.Limits{Burst: 1}}, "rate_limit.qps: must be > 0"},
		{"port zero", Config{Interfaces: []string{"lo"}, Ports: []uint16{53, 0}, Limits: ok}, "xdp.ports[1]: port 0"},
		{"too many ports", Config{Interfaces: []string{"lo"}, Ports: make([]uint16, 9), Limits: ok}, "xdp.ports: need 1 to 8 ports"},
		{"negative table", Config{Interfaces: []string{"lo"}, TableSize: -1, Limits: ok}, "xdp.table_size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Attach(tc.cfg)
			if err == nil {
				f.Close()
				t.Fatal("Attach succeeded")
			}
			if !strings.HasPrefix(err.Error(), "xdp: ") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestAttachSecondProgramRefused: native mode on an interface that already
// has a native XDP program fails with the kernel's reason in one line.
func TestAttachSecondProgramRefused(t *testing.T) {
	n := netnstest.New(t)
	cfg := Config{Interfaces: []string{n.ServerIf}, Mode: ModeNative, Limits: ratelimit.Limits{QPS: 1, Burst: 1}, Logger: quiet}
	var first *Filter
	var err2 error
	err := netnstest.Do(n.Server, func() error {
		var err error
		if first, err = Attach(cfg); err != nil {
			return err
		}
		_, err2 = Attach(cfg)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if err2 == nil || !strings.Contains(err2.Error(), "attach to "+n.ServerIf) || strings.Contains(err2.Error(), "\n") {
		t.Errorf("second attach: %v", err2)
	}
}
