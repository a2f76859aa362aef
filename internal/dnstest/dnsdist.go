package dnstest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Dnsdist is a dnsdist process (Debian's package) a test started.
type Dnsdist struct {
	bin, console, key string
}

// StartDnsdist runs dnsdist with conf (Lua: setLocal, newServer...) and a
// console on a free loopback port, from a config file in a temporary
// directory; it is killed by its PID when the test ends.
func StartDnsdist(t testing.TB, conf string) *Dnsdist {
	t.Helper()
	bin := NeedBinary(t, "dnsdist", "dnsdist")
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		t.Fatal(err)
	}
	d := &Dnsdist{bin: bin, console: fmt.Sprintf("127.0.0.1:%d", FreePort(t)), key: base64.StdEncoding.EncodeToString(raw[:])}
	path := filepath.Join(t.TempDir(), "dnsdist.conf")
	full := fmt.Sprintf("controlSocket(%q)\nsetKey(%q)\n%s\n", d.console, d.key, conf)
	if err := os.WriteFile(path, []byte(full), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--supervised", "--disable-syslog", "-C", path)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := d.exec("showVersion()"); err == nil {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatal("dnsdist's console did not answer within 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Exec runs one console command (Lua) and returns what it printed.
func (d *Dnsdist) Exec(t testing.TB, command string) string {
	t.Helper()
	out, err := d.exec(command)
	if err != nil {
		t.Fatalf("dnsdist console %q: %v: %s", command, err, out)
	}
	return out
}

func (d *Dnsdist) exec(command string) (string, error) {
	cmd := exec.Command(d.bin, "-c", d.console, "-k", d.key, "-e", command)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
