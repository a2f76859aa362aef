package dnstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// runKnotd writes conf as dir/knot.conf and runs Debian's knotd with it
// until the test ends, its output kept in dir/knotd.log and shown when the
// test fails.
func runKnotd(t testing.TB, dir, conf string) {
	t.Helper()
	bin := NeedBinary(t, "knotd", "knot")
	path := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "knotd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", path)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logFile.Name())
			t.Logf("knotd output:\n%s", out)
		}
	})
}
