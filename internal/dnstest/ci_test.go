package dnstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCIScriptSetsCI runs .ci/run with stand-ins for the programs it calls
// and checks that make test sees CI set: without it NeedBinary skips the
// tests whose peer is missing instead of failing them.
func TestCIScriptSetsCI(t *testing.T) {
	bin := t.TempDir()
	seen := filepath.Join(t.TempDir(), "make-env")
	stub := func(name, body string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"apt-get", "systemctl", "go", "sh"} {
		stub(name, "exit 0")
	}
	stub("make", `echo "CI=$CI $*" > "$MAKE_ENV"`)
	cmd := exec.Command("bash", "../../.ci/run")
	cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "MAKE_ENV=" + seen} // no CI inherited
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf(".ci/run: %v\n%s", err, out)
	}
	got, err := os.ReadFile(seen)
	if err != nil {
		t.Fatalf("make was not run: %v", err)
	}
	if strings.TrimSpace(string(got)) != "CI=true test" {
		t.Fatalf("make saw %q, want CI=true test", got)
	}
}
