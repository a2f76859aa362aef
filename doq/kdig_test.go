package doq

import (
	"debug/elf"
	"net"
	"os/exec"
	"strings"
	"testing"
)

// TestKdigProfiles asks kdig over DoQ (verifying the chain against the root
// only) which profile each server name selects.
func TestKdigProfiles(t *testing.T) {
	path, err := exec.LookPath("kdig")
	if err != nil {
		t.Skip("kdig not installed (apt-get install knot-dnsutils)")
	}
	if !linksNgtcp2(path) {
		t.Skip("this kdig is built without QUIC (no libngtcp2): +quic would fall back to TCP")
	}
	f := start(t, nil)
	_, port, _ := net.SplitHostPort(f.addr)
	for _, tc := range []struct{ sni, want string }{
		{"dns.test", "open"},
		{"child.dns.test", "child"},
		{"ads.dns.test", "ads"},
		{"other.dns.test", "open"}, // unknown SNI → default
	} {
		t.Run(tc.sni, func(t *testing.T) {
			out, err := exec.Command("kdig", "+quic", "+tls-hostname="+tc.sni, "+tls-ca="+f.pki.CAFile,
				"@127.0.0.1", "-p", port, "+short", "+time=5", "+retry=0", "whoami.test", "TXT").CombinedOutput()
			if err != nil {
				t.Fatalf("kdig: %v\n%s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != `"`+tc.want+`"` {
				t.Fatalf("profile = %s, want %q", got, tc.want)
			}
		})
	}
}

// linksNgtcp2 reports whether the binary links libngtcp2, which kdig needs
// for +quic.
func linksNgtcp2(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	libs, _ := f.ImportedLibraries()
	for _, l := range libs {
		if strings.HasPrefix(l, "libngtcp2") {
			return true
		}
	}
	return false
}
