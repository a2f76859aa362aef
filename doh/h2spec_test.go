package doh

import (
	"context"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// h2specInstall is how CI (.ci/run) installs h2spec.
const h2specInstall = "go install github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible"

// TestH2spec runs h2spec, the HTTP/2 conformance suite (RFC 7540, RFC
// 7541 and generic cases), against a DoH listener on the builtin engine:
// every case must pass.
func TestH2spec(t *testing.T) {
	bin := h2specBinary(t)
	env := startServer(t, onEngine(HTTP2Builtin))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-h", "127.0.0.1", "-p", strconv.Itoa(int(env.srv.TLSAddrs()[0].Port())),
		"-t", "-k", "-o", "5", "-P", "/dns-query").CombinedOutput()
	m := regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("h2spec: %v, no summary:\n%s", err, out)
	}
	total, passed := string(m[1]), string(m[2])
	if err != nil || total != passed || total == "0" {
		t.Fatalf("h2spec: %v: %s\n%s", err, m[0], out)
	}
	t.Logf("h2spec: %s", m[0])
}

// h2specBinary finds h2spec on PATH or in Go's bin folder; in CI its
// absence fails the test.
func h2specBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("h2spec"); err == nil {
		return p
	}
	for _, dir := range []string{os.Getenv("GOBIN"), filepath.Join(build.Default.GOPATH, "bin")} {
		if p := filepath.Join(dir, "h2spec"); dir != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("h2spec not installed (" + h2specInstall + ")")
	}
	t.Skip("h2spec not installed (" + h2specInstall + ")")
	return ""
}
