package config

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// DefaultResolvConf is where the embedded default finds its upstreams.
const DefaultResolvConf = "/etc/resolv.conf"

// Default returns the embedded configuration `dnsward serve` runs without a
// file: plain DNS on 127.0.0.1:8053, DoH on 127.0.0.1:8443, DoT and DoQ on
// 127.0.0.1:8853 with a self-signed certificate, metrics on 127.0.0.1:9153,
// the five DNS4EU-style profiles (with empty list categories until lists are
// configured), forwarding to the nameservers of resolvConf.
func Default(resolvConf string) (*Config, error) {
	ups, err := resolvConfUpstreams(resolvConf)
	if err != nil {
		return nil, err
	}
	cfg := &Config{
		File: "(embedded default)",
		Listen: Listen{
			DNS: []string{"127.0.0.1:8053"}, Metrics: "127.0.0.1:9153",
			DoH: []string{"127.0.0.1:8443"}, DoT: []string{"127.0.0.1:8853"}, DoQ: []string{"127.0.0.1:8853"},
		},
		Upstreams:      ups,
		ServerName:     "localhost",
		TLS:            TLS{Mode: "self_signed"},
		Lists:          map[string][]string{"malware": nil, "ads": nil, "adult": nil},
		DefaultProfile: "unfiltered",
		Profiles:       defaultProfiles(),
		Cache:          Cache{Size: 100000, ServeStale: Duration(24 * 60 * 60 * 1e9)},
		lines:          map[string]int{},
		embedded:       true,
	}
	cfg.applyDefaults()
	if errs := cfg.validate(); len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// resolvConfUpstreams reads the nameserver lines of a resolv.conf file.
func resolvConfUpstreams(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: embedded default needs upstreams from %s: %w", path, err)
	}
	defer f.Close()
	var ups []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		host, _, _ := strings.Cut(fields[1], "%") // drop an IPv6 zone
		if a, err := netip.ParseAddr(host); err == nil {
			ups = append(ups, "udp://"+net.JoinHostPort(a.String(), "53"))
		}
	}
	if len(ups) == 0 {
		return nil, fmt.Errorf("config: embedded default: no nameserver lines in %s; write a config file with upstreams and run dnsward serve --config FILE", path)
	}
	return ups, nil
}

// defaultProfiles are DNS4EU's five options. Each is reachable by DoH path
// and by a *.localhost name, which browsers and curl resolve to loopback.
func defaultProfiles() map[string]Profile {
	return map[string]Profile{
		"unfiltered":  {Paths: []string{"/dns-query"}},
		"protective":  {Paths: []string{"/protective"}, Hosts: []string{"protective.localhost"}, Block: []string{"malware"}},
		"noads":       {Paths: []string{"/noads", "/ads"}, Hosts: []string{"noads.localhost"}, Block: []string{"malware", "ads"}},
		"child":       {Paths: []string{"/child"}, Hosts: []string{"child.localhost"}, Block: []string{"malware", "adult"}, SafeSearch: true},
		"child-noads": {Paths: []string{"/child-ads", "/child-noads"}, Hosts: []string{"child-noads.localhost"}, Block: []string{"malware", "ads", "adult"}, SafeSearch: true},
	}
}

// defaultDataDir is a user-writable place for certificates and list caches.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "dnsward")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "dnsward")
	}
	return filepath.Join(os.TempDir(), "dnsward")
}
