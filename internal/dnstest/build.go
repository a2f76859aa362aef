package dnstest

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// BuildDnsward compiles cmd/dnsward into a temporary folder removed when t
// ends and returns the binary's path, for tests that run the real process.
// Each call links afresh (a test binary has no hook to remove a shared copy
// at exit); the go command's build cache keeps repeated calls short. A
// missing go command or a failing build fails the test.
func BuildDnsward(t testing.TB) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build dnsward: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "dnsward")
	if out, err := exec.Command(goBin, "build", "-o", bin, "github.com/dnsward/dnsward/cmd/dnsward").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
