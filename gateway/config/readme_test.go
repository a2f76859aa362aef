package config

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// readmeDefaults reads README.md's configuration key table: each key's
// default column. A row for "`a` / `b`" with default "`x` / `y`" gives a x
// and b y.
func readmeDefaults(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defaults := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| `") || len(cells) < 3 {
			continue
		}
		keys := strings.Split(strings.TrimPrefix(cells[0], "| "), " / ")
		values := strings.Split(cells[1], " / ")
		for i, k := range keys {
			v := cells[1]
			if len(values) == len(keys) {
				v = values[i]
			}
			defaults[strings.Trim(k, "`")] = v
		}
	}
	return defaults
}

// TestREADMEDefaults: the default README.md gives for a key is the value a
// file without the key gets, and also the embedded default's where that
// differs (the README said serve_stale is off; the embedded default sets
// 24h).
func TestREADMEDefaults(t *testing.T) {
	file, err := Parse("c.yaml", []byte("listen: {dns: [\"127.0.0.1:8053\"]}\nupstreams: [udp://127.0.0.1:5300]\n"))
	if err != nil {
		t.Fatal(err)
	}
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 127.0.0.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	embedded, err := Default(resolv)
	if err != nil {
		t.Fatal(err)
	}
	dur := func(d Duration) string { // as README writes them: 0, 5s, 24h
		if d == 0 {
			return "0"
		}
		return d.String()
	}
	retry := func(c *Config) string { return strconv.Itoa(c.DoQ.RetryThreshold()) }
	readme := readmeDefaults(t)
	for key, get := range map[string]func(*Config) string{
		"upstream_timeout":   func(c *Config) string { return dur(c.UpstreamTimeout) },
		"cache.size":         func(c *Config) string { return strconv.Itoa(c.Cache.Size) },
		"cache.min_ttl":      func(c *Config) string { return dur(c.Cache.MinTTL) },
		"cache.max_ttl":      func(c *Config) string { return dur(c.Cache.MaxTTL) },
		"cache.serve_stale":  func(c *Config) string { return dur(c.Cache.ServeStale) },
		"server_name":        func(c *Config) string { return c.ServerName },
		"tls.mode":           func(c *Config) string { return cmp.Or(c.TLS.Mode, "self_signed") },
		"list_refresh":       func(c *Config) string { return dur(c.ListRefresh) },
		"proxy_protocol":     func(c *Config) string { return strconv.FormatBool(c.ProxyProtocol) },
		"doq.allow_0rtt":     func(c *Config) string { return strconv.FormatBool(c.DoQ.Allow0RTT) },
		"doq.always_retry":   func(c *Config) string { return strconv.FormatBool(c.DoQ.AlwaysRetry) },
		"doq.retry_above":    retry,
		"log.level":          func(c *Config) string { return c.Log.Level },
		"log.format":         func(c *Config) string { return c.Log.Format },
		"rate_limit":         func(c *Config) string { return offIfNil(c.RateLimit) },
		"xdp":                func(c *Config) string { return offIfNil(c.XDP) },
		"unknown_clients":    func(c *Config) string { return c.UnknownClients },
		"metrics.client_ids": func(c *Config) string { return strconv.FormatBool(c.Metrics.ClientIDs) },
		"onboarding.enabled": func(c *Config) string {
			return strconv.FormatBool(c.Onboarding.Enabled == nil || *c.Onboarding.Enabled)
		},
		"onboarding.service_name":  func(c *Config) string { return c.Onboarding.ServiceName },
		"onboarding.sign_profiles": func(c *Config) string { return strconv.FormatBool(c.Onboarding.SignProfiles) },
	} {
		cell, ok := readme[key]
		if !ok {
			t.Errorf("README's key table has no row for %s", key)
			continue
		}
		for _, c := range []*Config{file, embedded} {
			v := get(c)
			if v != "off" {
				v = "`" + v + "`"
			}
			if !strings.Contains(cell, v) {
				t.Errorf("%s: README's default is %q; %s has %s", key, cell, c.File, v)
			}
		}
	}
}

func offIfNil[T any](p *T) string {
	if p == nil {
		return "off"
	}
	return fmt.Sprint(*p)
}

// TestREADMESocketActivationListen: the listen map README gives for
// deploy/systemd/dnsward.socket is a configuration dnsward loads, on the
// unit's dual-stack addresses.
func TestREADMESocketActivationListen(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(data)), " ") // as wrapped anywhere
	_, rest, ok := strings.Cut(text, "so the unit above wants `")
	listen, _, ok2 := strings.Cut(rest, "`")
	if !ok || !ok2 || !strings.HasPrefix(listen, "listen: ") {
		t.Fatal("README's socket activation paragraph gives no listen map")
	}
	cfg, err := Parse("readme.yaml", []byte(listen+"\nupstreams: [udp://127.0.0.1:53]\nserver_name: dns.example\n"+
		"tls: {mode: files, cert_file: c.pem, key_file: k.pem}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range [][]string{cfg.Listen.DNS, cfg.Listen.DoH, cfg.Listen.DoT, cfg.Listen.DoQ} {
		if len(got) != 1 || !strings.HasPrefix(got[0], "[::]:") {
			t.Errorf("listen %+v: want one [::] address per transport", cfg.Listen)
		}
	}
}
