package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/plain"
)

// maxExposure is the highest `systemd-analyze security` exposure level the
// unit may score (0 best, 10 worst); it scores 1.5, 1.9 with the XDP drop-in.
const maxExposure = 2.0

// TestSystemdUnit checks deploy/systemd with systemd's own parser: in a
// root holding the built binary and systemd's units, `systemd-analyze
// verify` accepts the unit alone and with the XDP drop-in without a single
// warning (verify exits 0 on unknown keys and bad values, so its output must
// be empty), as does the socket unit beside it, and `systemd-analyze
// security` scores it no worse than today (exposure level, 0 best, 10
// worst: 1.5 alone, 1.9 with XDP's capabilities, 1.2 with the socket
// activation drop-in, which drops the last capability).
// No systemd runs as PID 1 here, so the unit itself is not started.
func TestSystemdUnit(t *testing.T) {
	analyze := dnstest.NeedBinary(t, "systemd-analyze", "systemd")
	bin := dnstest.BuildDnsward(t)
	for _, tc := range []struct {
		name        string
		dropIns     []string
		maxExposure float64
		contains    []string // lines the unit must keep, whatever the score
	}{
		{"unit", nil, 1.5, []string{"Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"}},
		{"xdp", []string{"xdp.conf"}, 1.9, []string{"CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_BPF CAP_NET_ADMIN"}},
		{"socket", []string{"socket.conf"}, 1.2, []string{"Requires=dnsward.socket", "CapabilityBoundingSet=", "AmbientCapabilities="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := unitRoot(t, bin, tc.dropIns)
			cat, err := exec.Command(analyze, "--root="+root, "cat-config", "systemd/system/dnsward.service").CombinedOutput()
			if err != nil {
				t.Fatalf("cat-config: %v\n%s", err, cat)
			}
			for _, line := range tc.contains {
				if !strings.Contains(string(cat), "\n"+line+"\n") {
					t.Errorf("the unit lacks %q:\n%s", line, cat)
				}
			}
			out, err := exec.Command(analyze, "verify", "--root="+root, "dnsward.service", "dnsward.socket").CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
			}
			out, err = exec.Command(analyze, "security", "--offline=yes", "--root="+root, "dnsward.service").CombinedOutput()
			if err != nil {
				t.Fatalf("systemd-analyze security: %v\n%s", err, out)
			}
			m := regexp.MustCompile(`Overall exposure level for dnsward\.service: ([0-9.]+)`).FindSubmatch(out)
			if m == nil {
				t.Fatalf("no exposure level in:\n%s", out)
			}
			score, _ := strconv.ParseFloat(string(m[1]), 64)
			if score > tc.maxExposure {
				t.Fatalf("exposure level %.1f, want at most %.1f:\n%s", score, tc.maxExposure, out)
			}
			t.Logf("systemd-analyze security: exposure level %.1f", score)
		})
	}
}

// unitRoot builds a file system root for systemd-analyze --root: systemd's
// own units (verify needs sysinit.target and the rest), the unit and the
// named drop-ins under /etc/systemd/system, the binary its ExecStart names
// and the kill its ExecReload names.
func unitRoot(t *testing.T, bin string, dropIns []string) string {
	t.Helper()
	root := t.TempDir()
	src := filepath.Join("..", "..", "deploy", "systemd")
	etc := filepath.Join(root, "etc", "systemd", "system")
	for _, dir := range []string{"usr/lib/systemd", "usr/local/bin", "bin", "etc/systemd/system/dnsward.service.d"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, cp := range [][2]string{
		{"/usr/lib/systemd/system", filepath.Join(root, "usr/lib/systemd")},
		{bin, filepath.Join(root, "usr/local/bin/dnsward")},
		{"/bin/kill", filepath.Join(root, "bin/kill")},
		{filepath.Join(src, "dnsward.service"), etc},
		{filepath.Join(src, "dnsward.socket"), etc},
	} {
		if out, err := exec.Command("cp", "-a", cp[0], cp[1]).CombinedOutput(); err != nil {
			t.Fatalf("cp %s: %v\n%s", cp[0], err, out)
		}
	}
	for _, d := range dropIns {
		if out, err := exec.Command("cp", filepath.Join(src, "dnsward.service.d", d), filepath.Join(etc, "dnsward.service.d")).CombinedOutput(); err != nil {
			t.Fatalf("cp %s: %v\n%s", d, err, out)
		}
	}
	return root
}

// TestSysctlDropIn: the sysctl file shipped beside the unit lets a socket
// have listen.udp_buffer's default without CAP_NET_ADMIN, which the unit and
// the Kubernetes deployment do not grant.
func TestSysctlDropIn(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "systemd", "99-dnsward.conf"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if !ok || err != nil {
			t.Fatalf("line %d: %q is not key = number", i+1, line)
		}
		got[strings.TrimSpace(k)] = n
	}
	for _, key := range []string{"net.core.rmem_max", "net.core.wmem_max"} {
		if got[key] < plain.DefaultUDPBuffer {
			t.Errorf("%s = %d, want at least listen.udp_buffer's default, %d", key, got[key], plain.DefaultUDPBuffer)
		}
	}
}
