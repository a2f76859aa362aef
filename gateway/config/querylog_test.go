package config

import (
	"strings"
	"testing"

	"github.com/dnsward/dnsward/querylog"
)

func TestQueryLogErrors(t *testing.T) {
	const base = "listen:\n  dns: [\"127.0.0.1:8053\"]\nupstreams: [udp://127.0.0.1:5300]\nquery_log:\n"
	tests := []struct{ name, yaml, want string }{
		{"unknown mode", base + "  client: hashed\n",
			`c.yaml:5: query_log.client: must be pseudonym, truncate, none or raw, got "hashed"`},
		{"negative k", base + "  k: -1\n", "c.yaml:5: query_log.k: must be at least 1, got -1"},
		{"zero sample", base + "  sample: 0\n", "c.yaml:5: query_log.sample: must be in (0, 1], got 0"},
		{"sample above one", base + "  sample: 1.5\n", "c.yaml:5: query_log.sample: must be in (0, 1], got 1.5"},
		{"both outputs", base + "  sinks:\n    - {json: q.jsonl, dnstap: unix:///run/tap.sock}\n",
			"c.yaml:6: query_log.sinks[0]: set exactly one of dnstap and json"},
		{"no output", base + "  sinks:\n    - {keep: 3}\n", "c.yaml:6: query_log.sinks[0]: set exactly one of dnstap and json"},
		{"dnstap scheme", base + "  sinks:\n    - dnstap: udp://127.0.0.1:6000\n",
			`c.yaml:6: query_log.sinks[0].dnstap: want unix:///path, tcp://ip:port or file:///path, got "udp://127.0.0.1:6000"`},
		{"dnstap relative", base + "  sinks:\n    - dnstap: unix://run/tap.sock\n",
			`c.yaml:6: query_log.sinks[0].dnstap: want unix:///absolute/path, got "unix://run/tap.sock"`},
		{"dnstap tcp name", base + "  sinks:\n    - dnstap: tcp://collector:6000\n",
			"c.yaml:6: query_log.sinks[0].dnstap:"},
		{"negative keep", base + "  sinks:\n    - {json: q.jsonl, keep: -2}\n",
			"c.yaml:6: query_log.sinks[0].keep: must not be negative, got -2"},
		{"unknown key", base + "  sinks:\n    - {json: q.jsonl, rotate: daily}\n",
			"c.yaml:6: query_log.sinks[0].rotate: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain\n  %s", err, tt.want)
			}
		})
	}
}

func TestQueryLogDefaults(t *testing.T) {
	cfg, err := Parse("/etc/dnsward/c.yaml", []byte("listen: {dns: [\"127.0.0.1:8053\"]}\nupstreams: [udp://127.0.0.1:5300]\n"+
		"query_log:\n  sinks:\n    - json: q.jsonl\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientMode() != querylog.Pseudonym || cfg.PseudonymK() != 8 || !cfg.StatsOn() {
		t.Fatalf("mode %q k %d stats %v, want pseudonym, 8 and stats on", cfg.ClientMode(), cfg.PseudonymK(), cfg.StatsOn())
	}
	qc := cfg.QueryLogConfig(nil)
	s := qc.Sinks[0]
	if qc.Sample != 1 || s.JSON != "/etc/dnsward/q.jsonl" || s.Rotation.MaxSize != 100<<20 || s.Rotation.Keep != 7 || s.Rotation.MaxAge.Hours() != 168 {
		t.Fatalf("query log config %+v", qc)
	}
}
