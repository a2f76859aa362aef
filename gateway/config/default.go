package config

import (
	"bufio"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// DefaultResolvConf is where the embedded default finds its upstreams.
const DefaultResolvConf = "/etc/resolv.conf"

// Default returns the embedded configuration `dnsward serve` runs without a
// file: plain DNS on 127.0.0.1:8053, metrics on 127.0.0.1:9153, forwarding to
// the nameservers of resolvConf.
func Default(resolvConf string) (*Config, error) {
	ups, err := resolvConfUpstreams(resolvConf)
	if err != nil {
		return nil, err
	}
	cfg := &Config{
		File:      "(embedded default)",
		Listen:    Listen{DNS: []string{"127.0.0.1:8053"}, Metrics: "127.0.0.1:9153"},
		Upstreams: ups,
		Cache:     Cache{Size: 100000, ServeStale: Duration(24 * 60 * 60 * 1e9)},
		lines:     map[string]int{},
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
