package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckQueryLog: dnsward check validates query_log and says where the
// query log goes and how clients are written.
func TestCheckQueryLog(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"check", "--config", "../../examples/query-log.yaml"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"query_log           clients written as pseudonym", "query_log.sinks     dnstap:unix:///run/dnsward/dnstap.sock",
		"query_log.sinks     json:/var/log/dnsward/queries.jsonl"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, bad, "listen: {dns: [\"127.0.0.1:53\"]}\nupstreams: [udp://127.0.0.1:5300]\nquery_log:\n  sinks:\n    - dnstap: udp://127.0.0.1:6000\n")
	out.Reset()
	errOut.Reset()
	if code := run([]string{"check", "--config", bad}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if want := bad + ":5: query_log.sinks[0].dnstap: want unix:///path"; !strings.Contains(errOut.String(), want) {
		t.Fatalf("stderr %q, want %q", errOut.String(), want)
	}
}
