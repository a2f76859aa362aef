package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/dnsward/dnsward/resolver/upstream"
)

// Config is the whole of dnsward's configuration file.
type Config struct {
	Listen          Listen   `yaml:"listen"`
	Upstreams       []string `yaml:"upstreams"`        // udp://, tcp://, tls://host:port#name, https://, quic://
	UpstreamTimeout Duration `yaml:"upstream_timeout"` // per resolution; default 5s
	Cache           Cache    `yaml:"cache"`
	Log             Log      `yaml:"log"`
	DataDir         string   `yaml:"data_dir"` // certificates, ACME account, list caches

	// UpstreamTryTimeout is how long one upstream may take to answer before
	// the query fails over to the next; default min(3s, UpstreamTimeout/2).
	UpstreamTryTimeout Duration `yaml:"upstream_try_timeout"`
	// UpstreamMaxPending bounds the queries waiting on one upstream at once;
	// one more goes to the next upstream (SERVFAIL with EDE 23 when none has
	// room); default upstream.DefaultMaxPending.
	UpstreamMaxPending int `yaml:"upstream_max_pending"`

	ServerName     string              `yaml:"server_name"` // certificate name; profile hosts are added
	TLS            TLS                 `yaml:"tls"`
	TrustedProxies []string            `yaml:"trusted_proxies"` // CIDRs whose PROXY v2 / X-Forwarded-For is believed
	ProxyProtocol  bool                `yaml:"proxy_protocol"`  // plain DNS (UDP, TCP), DoT and DoH over TCP expect PROXY v2 from trusted_proxies
	Lists          map[string][]string `yaml:"lists"`           // category → files or http(s) URLs
	ListRefresh    Duration            `yaml:"list_refresh"`    // remote list refresh interval; default 12h
	DefaultProfile string              `yaml:"default_profile"`
	Profiles       map[string]Profile  `yaml:"profiles"`
	RateLimit      *RateLimit          `yaml:"rate_limit"` // per-client limits (XDP and userspace)
	DoH            DoH                 `yaml:"doh"`
	DoQ            DoQ                 `yaml:"doq"`
	XDP            *XDP                `yaml:"xdp"`
	ThreatIntel    *ThreatIntel        `yaml:"threat_intel"`    // MISP feeds and instances
	QueryLog       *QueryLog           `yaml:"query_log"`       // nil: no query log (clients are still pseudonymized)
	Clients        map[string]Client   `yaml:"clients"`         // client ID → the profile it gets
	UnknownClients string              `yaml:"unknown_clients"` // accept (default) | refuse: client IDs not under clients
	Metrics        Metrics             `yaml:"metrics"`
	Resolving      `yaml:",inline"`    // forward_zones, local_records, local_zone_files, local_ptr
	Onboarding     Onboarding          `yaml:"onboarding"` // the setup page on the DoH listeners

	// File is the path the configuration was read from ("" for the embedded default).
	File string `yaml:"-"`
	// lines maps each key path to the line it was written on.
	lines    map[string]int
	embedded bool
}

// BaseDir is the folder relative paths in the configuration start from: the
// configuration file's, or the working directory for the embedded default.
func (c *Config) BaseDir() string {
	if c.embedded {
		return "."
	}
	return filepath.Dir(c.File)
}

// Listen names the addresses of every front-end.
type Listen struct {
	DNS      []string `yaml:"dns"`       // plain DNS, UDP and TCP on each address
	Metrics  string   `yaml:"metrics"`   // /metrics, /healthz, /readyz
	DoH      []string `yaml:"doh"`       // DoH: TCP (HTTP/1.1, HTTP/2) and UDP (HTTP/3) on each address
	DoHPlain []string `yaml:"doh_plain"` // cleartext DoH behind a TLS-terminating proxy
	DoT      []string `yaml:"dot"`       // DNS over TLS
	DoQ      []string `yaml:"doq"`       // DNS over QUIC
	// UDPBuffer is each plain-DNS UDP socket's receive and send buffer in
	// bytes; default 8 MiB.
	UDPBuffer int `yaml:"udp_buffer"`
	// UDPMaxPending bounds the plain-DNS UDP queries waiting on upstreams;
	// default 4096.
	UDPMaxPending int `yaml:"udp_max_pending"`
	// UDPReaders is the number of goroutines reading each plain-DNS UDP
	// socket; default 1.
	UDPReaders int `yaml:"udp_readers"`
}

// Cache configures the answer cache.
type Cache struct {
	Size       int      `yaml:"size"`        // entries; default 100000
	MinTTL     Duration `yaml:"min_ttl"`     // default 0
	MaxTTL     Duration `yaml:"max_ttl"`     // default 24h
	ServeStale Duration `yaml:"serve_stale"` // RFC 8767 window; 0 disables
}

// Log configures log/slog output.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
	// PressureInterval is how often, at most, one line sums up the queries
	// and connections refused and the protocol errors seen since the last
	// (only when there were any); default 10s.
	PressureInterval Duration `yaml:"pressure_interval"`
}

// Load reads and validates a configuration file.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates configuration text; name is used in errors and
// to resolve relative paths.
func Parse(name string, data []byte) (*Config, error) {
	cfg := &Config{File: name}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: name, Msg: "the file is empty"}}
		}
		return nil, Errors{{File: name, Msg: "not valid YAML: " + err.Error()}}
	}
	d := &decoder{file: name, lines: map[string]int{}}
	if len(doc.Content) == 1 {
		d.decode(doc.Content[0], "", reflect.ValueOf(cfg).Elem())
	}
	if len(d.errs) > 0 {
		return nil, d.errs
	}
	cfg.File, cfg.lines = name, d.lines // a null document zeroes cfg
	cfg.applyDefaults()
	if errs := cfg.validate(); len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

func (c *Config) applyDefaults() {
	if c.Cache.Size == 0 && c.lines["cache.size"] == 0 {
		c.Cache.Size = 100000
	}
	if c.Cache.MaxTTL == 0 {
		c.Cache.MaxTTL = Duration(24 * 60 * 60 * 1e9)
	}
	if c.UpstreamTimeout == 0 {
		c.UpstreamTimeout = Duration(5e9)
	}
	if c.UpstreamMaxPending == 0 {
		c.UpstreamMaxPending = upstream.DefaultMaxPending
	}
	if c.UpstreamTryTimeout == 0 {
		// Half the budget, so that an upstream that never answers leaves
		// time to fail over to the next.
		c.UpstreamTryTimeout = min(Duration(upstream.DefaultTimeout), c.UpstreamTimeout/2)
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	if c.Log.PressureInterval == 0 {
		c.Log.PressureInterval = Duration(10e9)
	}
	if c.ListRefresh == 0 {
		c.ListRefresh = Duration(12 * 60 * 60 * 1e9)
	}
	if c.DoH.HTTP2 == "" {
		c.DoH.HTTP2 = "builtin"
	}
	if c.DoH.HTTP3 == "" {
		c.DoH.HTTP3 = "builtin"
	}
	if c.DataDir == "" {
		c.DataDir = defaultDataDir()
	}
	c.DataDir = c.Path(c.DataDir)
	if c.ServerName == "" {
		c.ServerName = "localhost"
	}
	if c.Onboarding.ServiceName == "" {
		c.Onboarding.ServiceName = DefaultServiceName
	}
	c.applyThreatIntelDefaults()
	if c.UnknownClients == "" {
		c.UnknownClients = UnknownClientsAccept
	}
	if len(c.Profiles) == 0 {
		c.DefaultProfile, c.Profiles = "default", map[string]Profile{"default": {}}
	} else if c.DefaultProfile == "" && len(c.Profiles) == 1 {
		c.DefaultProfile = c.ProfileNames()[0]
	}
}

// errAt builds an error for key at the line it was written on.
func (c *Config) errAt(key, format string, args ...any) *Error {
	return &Error{File: c.File, Line: c.lines[key], Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (c *Config) validate() Errors {
	var errs Errors
	add := func(e *Error) { errs = append(errs, e) }
	l := c.Listen
	if len(l.DNS)+len(l.DoH)+len(l.DoHPlain)+len(l.DoT)+len(l.DoQ) == 0 {
		add(c.errAt("listen", "no listener configured: set listen.dns, doh, doh_plain, dot or doq"))
	}
	for i, a := range c.Listen.DNS {
		if err := checkHostPort(a); err != nil {
			add(c.errAt(fmt.Sprintf("listen.dns[%d]", i), "%v", err))
		}
	}
	if b := c.Listen.UDPBuffer; b != 0 && (b < minUDPBuffer || b > maxUDPBuffer) {
		add(c.errAt("listen.udp_buffer", "must be between %d and %d bytes, got %d", minUDPBuffer, maxUDPBuffer, b))
	}
	if c.Listen.UDPMaxPending < 0 {
		add(c.errAt("listen.udp_max_pending", "must not be negative, got %d", c.Listen.UDPMaxPending))
	}
	if r := c.Listen.UDPReaders; r < 0 || r > maxUDPReaders {
		add(c.errAt("listen.udp_readers", "must be between 0 and %d, got %d", maxUDPReaders, r))
	}
	if c.Listen.Metrics != "" {
		if err := checkHostPort(c.Listen.Metrics); err != nil {
			add(c.errAt("listen.metrics", "%v", err))
		}
	}
	if len(c.Upstreams) == 0 {
		add(c.errAt("upstreams", "at least one upstream is required"))
	}
	for i, u := range c.Upstreams {
		if err := checkUpstream(u); err != nil {
			add(c.errAt(fmt.Sprintf("upstreams[%d]", i), "%v", err))
		}
	}
	if c.UpstreamMaxPending < 0 {
		add(c.errAt("upstream_max_pending", "must not be negative, got %d", c.UpstreamMaxPending))
	}
	if c.UpstreamTryTimeout > c.UpstreamTimeout {
		add(c.errAt("upstream_try_timeout", "%v is longer than upstream_timeout (%v), which bounds the whole resolution",
			c.UpstreamTryTimeout.Std(), c.UpstreamTimeout.Std()))
	}
	if c.Cache.Size < 0 {
		add(c.errAt("cache.size", "must not be negative, got %d", c.Cache.Size))
	}
	if c.Cache.MinTTL > c.Cache.MaxTTL {
		add(c.errAt("cache.min_ttl", "is larger than cache.max_ttl"))
	}
	errs = append(errs, c.validateSections()...)
	errs = append(errs, c.validateThreatIntel()...)
	errs = append(errs, c.validateQueryLog()...)
	errs = append(errs, c.validateClients()...)
	errs = append(errs, c.validateResolving()...)
	errs = append(errs, c.validateOnboarding()...)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add(c.errAt("log.level", "must be debug, info, warn or error, got %q", c.Log.Level))
	}
	if c.Log.PressureInterval < Duration(1e9) {
		add(c.errAt("log.pressure_interval", "must be at least 1s, got %s", c.Log.PressureInterval.Std()))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add(c.errAt("log.format", "must be text or json, got %q", c.Log.Format))
	}
	return errs
}

// The bounds on listen.udp_buffer: below 4 KiB a socket holds a handful of
// queries; above 1 GiB is a typo.
const minUDPBuffer, maxUDPBuffer = 4 << 10, 1 << 30

// maxUDPReaders bounds listen.udp_readers: beyond a few, readers of one
// socket only contend for its queue.
const maxUDPReaders = 64

// checkHostPort accepts "ip:port" with a literal IP and a port.
func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("expected ip:port, got %q", s)
	}
	if _, err := netip.ParseAddr(host); err != nil {
		return fmt.Errorf("expected a literal IP address, got %q", host)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("expected a port 1-65535, got %q", port)
	}
	return nil
}

// checkUpstream parses an upstream URL the way the gateway will, without
// opening any connection.
func checkUpstream(raw string) error {
	u, err := upstream.New(raw, upstream.Options{})
	if err != nil {
		return errors.Unwrap(err)
	}
	return u.Close()
}
