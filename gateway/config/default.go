package config

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultResolvConf is where the embedded default finds its upstreams.
const DefaultResolvConf = "/etc/resolv.conf"

//go:embed default.yaml
var defaultYAML []byte

// DefaultName is how errors and summaries name the embedded default.
const DefaultName = "(embedded default)"

// DefaultYAML returns the embedded configuration `dnsward serve` runs
// without a file, as a file: plain DNS on 127.0.0.1:8053, DoH on
// 127.0.0.1:8443, DoT and DoQ on 127.0.0.1:8853 with a self-signed
// certificate, metrics on 127.0.0.1:9153, the five DNS4EU-style profiles
// (with empty list categories until lists are configured), forwarding to the
// nameservers of resolvConf.
func DefaultYAML(resolvConf string) ([]byte, error) {
	ups, err := resolvConfUpstreams(resolvConf)
	if err != nil {
		return nil, err
	}
	b := bytes.NewBuffer(slices.Clip(defaultYAML))
	fmt.Fprintf(b, "upstreams:                       # the nameservers in %s\n", resolvConf)
	for _, u := range ups {
		fmt.Fprintf(b, "  - %s\n", u)
	}
	return b.Bytes(), nil
}

// Default parses the embedded configuration (see DefaultYAML).
func Default(resolvConf string) (*Config, error) {
	data, err := DefaultYAML(resolvConf)
	if err != nil {
		return nil, err
	}
	cfg, err := Parse(DefaultName, data)
	if err != nil {
		return nil, err
	}
	cfg.embedded = true
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
