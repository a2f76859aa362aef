package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// TestCheckExamples validates every example configuration shipped in the repo.
func TestCheckExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs found: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run([]string{"check", "--config", f}, &out, &errOut); code != 0 {
				t.Fatalf("exit %d: %s", code, errOut.String())
			}
			if !strings.Contains(out.String(), "OK") {
				t.Fatalf("output %q", out.String())
			}
		})
	}
}

// TestCheckReportsErrors: bad values and list files that do not exist are
// errors naming the file, the line and the key (a missing list passed check
// and left its category empty).
func TestCheckReportsErrors(t *testing.T) {
	const base = "listen:\n  dns: [\"127.0.0.1:53\"]\nupstreams: [udp://127.0.0.1:5300]\n"
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "ads.txt"), "ads.example\n")
	tests := []struct{ name, yaml, want string }{
		{"wrong type", base + "cache:\n  size: big\n", `:5: cache.size: expected an integer, got "big"`},
		{"missing list file", base + "lists:\n  ads:\n    - ads.txt\n    - missing.txt\n",
			":7: lists.ads[1]: list file " + filepath.Join(dir, "missing.txt") + " does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := filepath.Join(dir, "bad.yaml")
			writeFile(t, bad, tt.yaml)
			var out, errOut bytes.Buffer
			if code := run([]string{"check", "--config", bad}, &out, &errOut); code != 1 {
				t.Fatalf("exit %d, want 1 (stdout %s)", code, out.String())
			}
			if want := bad + tt.want; !strings.Contains(errOut.String(), want) {
				t.Fatalf("stderr %q, want %q", errOut.String(), want)
			}
		})
	}
}

func TestQueryCommand(t *testing.T) {
	auth := dnstest.StartAuthority(t, []string{"www.example. 300 IN A 127.0.0.7"}, nil)
	for _, scheme := range []string{"udp", "tcp"} {
		var out, errOut bytes.Buffer
		code := run([]string{"query", "www.example", "A", "@" + scheme + "://" + auth.Addr}, &out, &errOut)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", scheme, code, errOut.String())
		}
		if !strings.Contains(out.String(), "127.0.0.7") {
			t.Fatalf("%s: output lacks the answer: %s", scheme, out.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"query", "www.example"}, &out, &errOut); code != 2 {
		t.Fatalf("query without server: exit %d, want 2", code)
	}
}

// TestQueryIDN: a name outside ASCII is sent in its A-label form (it timed
// out on UDP and came back as a mismatched question on TCP); a name IDNA
// rejects is a usage error, not a query.
func TestQueryIDN(t *testing.T) {
	auth := dnstest.StartAuthority(t, []string{"xn--bcher-kva.example. 300 IN A 127.0.0.8"}, nil)
	for _, scheme := range []string{"udp", "tcp"} {
		var out, errOut bytes.Buffer
		code := run([]string{"query", "Bücher.example", "A", "@" + scheme + "://" + auth.Addr, "-timeout", "2s"}, &out, &errOut)
		if code != 0 || !strings.Contains(out.String(), "127.0.0.8") || !strings.Contains(out.String(), "xn--bcher-kva.example.") {
			t.Fatalf("%s: exit %d, stdout %s, stderr %s", scheme, code, out.String(), errOut.String())
		}
	}
	for _, name := range []string{"a\u200d.example", "ü..example"} {
		var out, errOut bytes.Buffer
		code := run([]string{"query", name, "@udp://" + auth.Addr, "-timeout", "2s"}, &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), "not a valid") {
			t.Errorf("%q: exit %d, stderr %q; want 2 and the name rejected", name, code, errOut.String())
		}
	}
	if got := auth.Queries.Load(); got != 2 {
		t.Errorf("the authority saw %d queries, want 2: rejected names must not be sent", got)
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"version"}, &out, &out); code != 0 || !strings.HasPrefix(out.String(), "dnsward ") {
		t.Fatalf("exit %d output %q", code, out.String())
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBenchCommand(t *testing.T) {
	auth := dnstest.StartAuthority(t, []string{"www.example. 300 IN A 127.0.0.7"}, nil)
	queries := filepath.Join(t.TempDir(), "queries")
	writeFile(t, queries, "www.example A\nnothing.example AAAA\n")
	var out, errOut bytes.Buffer
	code := run([]string{"bench", "-s", "udp://" + auth.Addr, "-d", queries, "-n", "200", "-c", "2", "-q", "5", "-quiet"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if got := auth.Queries.Load(); got != 200 {
		t.Fatalf("server saw %d queries, want 200 (output %s)", got, out.String())
	}
}
