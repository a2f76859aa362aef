package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/dnsward/dnsward/certs"

	"github.com/dnsward/dnsward/ratelimit"
	"github.com/dnsward/dnsward/resolver/filter"
)

// TLS configures certificates for every encrypted front-end.
type TLS struct {
	Mode          string   `yaml:"mode"`           // acme | files | self_signed (default)
	CertFile      string   `yaml:"cert_file"`      // files mode: full chain
	KeyFile       string   `yaml:"key_file"`       // files mode
	CheckInterval Duration `yaml:"check_interval"` // how often certificates are checked: 5s files, 1h self_signed, 10m acme
	ACME          ACME     `yaml:"acme"`
}

// ACME configures the acme mode.
type ACME struct {
	Email       string   `yaml:"email"`
	CA          string   `yaml:"ca"`      // directory URL; default Let's Encrypt
	CARoot      string   `yaml:"ca_root"` // extra root to trust the CA's API
	Challenges  []string `yaml:"challenges"`
	HTTPPort    int      `yaml:"http_port"`
	TLSALPNPort int      `yaml:"tls_alpn_port"`
	// RenewalWindowRatio is the share of a certificate's lifetime, at its
	// end, in which it is renewed (default 1/3).
	RenewalWindowRatio float64 `yaml:"renewal_window_ratio"`
	DNS                ACMEDNS `yaml:"dns"` // the dns-01 provider
}

// ACMEDNS configures the dns-01 provider: RFC 2136 dynamic updates signed
// with TSIG.
type ACMEDNS struct {
	Provider       string `yaml:"provider"`         // rfc2136
	Server         string `yaml:"server"`           // host:port of the primary that accepts updates
	TSIGKey        string `yaml:"tsig_key"`         // the key's name
	TSIGSecret     string `yaml:"tsig_secret"`      // base64; never logged
	TSIGSecretFile string `yaml:"tsig_secret_file"` // a file holding the base64 secret alone
	TSIGAlgorithm  string `yaml:"tsig_algorithm"`   // default hmac-sha256
}

// Profile is one filtering profile and how clients reach it.
type Profile struct {
	Paths         []string         `yaml:"paths"` // DoH paths
	Hosts         []string         `yaml:"hosts"` // TLS SNI / HTTP Host names
	Addrs         []string         `yaml:"addrs"` // local addresses, any transport
	Block         []string         `yaml:"block"` // list categories
	Allow         []string         `yaml:"allow"`
	Deny          []string         `yaml:"deny"`
	SafeSearch    bool             `yaml:"safe_search"`
	BlockedAnswer []string         `yaml:"blocked_answer"` // nxdomain | null_ip | nodata | refused | IP addresses
	BlockedTTL    Duration         `yaml:"blocked_ttl"`    // TTL of blocked answers and of their SOA (negative TTL); default 5m
	Resolving     `yaml:",inline"` // the profile's own forward zones and local data, over the top level's
}

// DoH tunes the DNS-over-HTTPS front-end.
type DoH struct {
	// HTTP2 picks the HTTP/2 server: builtin (dnsward's engine, the
	// default) or stdlib (net/http's).
	HTTP2 string `yaml:"http2"`
	// HTTP3 picks the HTTP/3 server: builtin (dnsward's engine, the
	// default) or stdlib (quic-go's).
	HTTP3 string `yaml:"http3"`
}

// DoQ tunes the DNS-over-QUIC front-end (RFC 9250).
type DoQ struct {
	// Allow0RTT accepts 0-RTT; only replay-safe queries are answered before
	// the handshake completes.
	Allow0RTT bool `yaml:"allow_0rtt"`
	// AlwaysRetry validates every client address with a QUIC Retry.
	AlwaysRetry bool `yaml:"always_retry"`
	// RetryAbove sends a Retry to new clients while this many handshakes are
	// in progress (address validation under load); default 256, 0 off.
	RetryAbove *int `yaml:"retry_above"`
}

// DefaultRetryAbove is doq.retry_above when it is not set.
const DefaultRetryAbove = 256

// RetryThreshold is doq.retry_above, or DefaultRetryAbove when unset.
func (q DoQ) RetryThreshold() int {
	if q.RetryAbove == nil {
		return DefaultRetryAbove
	}
	return *q.RetryAbove
}

// XDP configures the kernel-side limiter on the plain-UDP port.
type XDP struct {
	Interfaces []string `yaml:"interfaces"`
	Mode       string   `yaml:"mode"` // auto | native | generic
}

var hostnameRE = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?$`)

// validHostname reports whether s is a DNS host name (LDH labels).
func validHostname(s string) bool { return len(s) <= 253 && hostnameRE.MatchString(strings.ToLower(s)) }

func (c *Config) validateSections() Errors {
	var errs Errors
	add := func(e *Error) { errs = append(errs, e) }
	for _, l := range []struct {
		key   string
		addrs []string
	}{{"listen.doh", c.Listen.DoH}, {"listen.doh_plain", c.Listen.DoHPlain}, {"listen.dot", c.Listen.DoT}, {"listen.doq", c.Listen.DoQ}} {
		for i, a := range l.addrs {
			if err := checkHostPort(a); err != nil {
				add(c.errAt(fmt.Sprintf("%s[%d]", l.key, i), "%v", err))
			}
		}
	}
	if c.ServerName != "" && !validHostname(strings.TrimPrefix(c.ServerName, "*.")) {
		add(c.errAt("server_name", "%q is not a valid host name", c.ServerName))
	} else if err := certs.CheckWildcard(c.ServerName, certs.Mode(c.TLS.Mode), c.TLS.ACME.Challenges); err != nil {
		add(c.errAt("server_name", "%v", err))
	}
	switch c.TLS.Mode {
	case "", "self_signed", "acme":
	case "files":
		if c.TLS.CertFile == "" {
			add(c.errAt("tls.mode", "files mode needs tls.cert_file"))
		}
		if c.TLS.KeyFile == "" {
			add(c.errAt("tls.mode", "files mode needs tls.key_file"))
		}
	default:
		add(c.errAt("tls.mode", "must be acme, files or self_signed, got %q", c.TLS.Mode))
	}
	if c.TLS.Mode == "acme" && c.ServerName == "" {
		add(c.errAt("tls.mode", "acme mode needs server_name"))
	}
	var ke *certs.KeyError // tls.acme is checked in every mode: a mistake there is one before it matters
	if _, err := c.ACMEConfig().Validate(); errors.As(err, &ke) {
		add(c.errAt(ke.Key, "%v", ke.Err))
	}
	if c.ProxyProtocol && len(c.TrustedProxies) == 0 {
		add(c.errAt("proxy_protocol", "needs trusted_proxies: the addresses allowed to send PROXY v2 headers"))
	}
	for i, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			add(c.errAt(fmt.Sprintf("trusted_proxies[%d]", i), "expected a CIDR prefix such as 10.0.0.0/8, got %q", p))
		}
	}
	for _, cat := range c.ListNames() {
		for i, loc := range c.Lists[cat] {
			location, _, err := ListSource(loc)
			if err == nil {
				err = c.checkListFile(location)
			}
			if err != nil {
				add(c.errAt(fmt.Sprintf("lists.%s[%d]", cat, i), "%v", err))
			}
		}
	}
	errs = append(errs, c.validateProfiles()...)
	if l, on := c.QueryLimits(); on {
		if _, err := l.Normalize(); err != nil {
			errs = append(errs, c.keyedErrors(err)...)
		}
	} else if _, err := l.NormalizeConns(); err != nil {
		errs = append(errs, c.keyedErrors(err)...)
	}
	if c.DoH.HTTP2 != "builtin" && c.DoH.HTTP2 != "stdlib" {
		add(c.errAt("doh.http2", "must be builtin or stdlib, got %q", c.DoH.HTTP2))
	}
	if c.DoH.HTTP3 != "builtin" && c.DoH.HTTP3 != "stdlib" {
		add(c.errAt("doh.http3", "must be builtin or stdlib, got %q", c.DoH.HTTP3))
	}
	if c.DoQ.RetryAbove != nil && *c.DoQ.RetryAbove < 0 {
		add(c.errAt("doq.retry_above", "must not be negative, got %d", *c.DoQ.RetryAbove))
	}
	if c.XDP != nil {
		if len(c.XDP.Interfaces) == 0 {
			add(c.errAt("xdp.interfaces", "at least one interface is required"))
		}
		if _, on := c.QueryLimits(); !on {
			add(c.errAt("xdp", "needs rate_limit (qps, burst): the limits XDP enforces"))
		}
		if len(c.Listen.DNS) == 0 {
			add(c.errAt("xdp", "needs listen.dns: XDP polices the plain-UDP ports dnsward listens on"))
		}
		switch c.XDP.Mode {
		case "", "auto", "native", "generic":
		default:
			add(c.errAt("xdp.mode", "must be auto, native or generic, got %q", c.XDP.Mode))
		}
	}
	return errs
}

func (c *Config) validateProfiles() Errors {
	var errs Errors
	add := func(e *Error) { errs = append(errs, e) }
	if len(c.Profiles) > 0 {
		if _, ok := c.Profiles[c.DefaultProfile]; !ok {
			add(c.errAt("default_profile", "profile %q is not defined", c.DefaultProfile))
		}
	}
	owners := map[string]string{} // "path /ads" → profile name
	claim := func(key, kind, value, profile string) {
		if other, dup := owners[kind+" "+value]; dup && other != profile {
			add(c.errAt(key, "%s %q is used by both profiles %q and %q", kind, value, other, profile))
			return
		}
		owners[kind+" "+value] = profile
	}
	for _, name := range c.ProfileNames() {
		p := c.Profiles[name]
		base := "profiles." + name
		for i, path := range p.Paths {
			key := fmt.Sprintf("%s.paths[%d]", base, i)
			if !strings.HasPrefix(path, "/") {
				add(c.errAt(key, "must start with /, got %q", path))
			}
			claim(key, "path", strings.TrimSuffix(path, "/"), name)
		}
		for i, h := range p.Hosts {
			key := fmt.Sprintf("%s.hosts[%d]", base, i)
			if !validHostname(h) {
				add(c.errAt(key, "%q is not a valid host name", h))
			}
			claim(key, "host", strings.TrimSuffix(strings.ToLower(h), "."), name)
		}
		for i, a := range p.Addrs {
			key := fmt.Sprintf("%s.addrs[%d]", base, i)
			ip, err := netip.ParseAddr(a)
			if err != nil {
				add(c.errAt(key, "expected an IP address, got %q", a))
				continue
			}
			claim(key, "address", ip.Unmap().String(), name)
		}
		for i, cat := range p.Block {
			if !slices.Contains(c.ListCategories(), cat) {
				add(c.errAt(fmt.Sprintf("%s.block[%d]", base, i), "list category %q is not defined under lists%s (defined: %s)", cat, c.mispCategoryHint(), strings.Join(c.ListCategories(), ", ")))
			}
		}
		if err := checkBlockedAnswer(p.BlockedAnswer); err != nil {
			add(c.errAt(base+".blocked_answer", "%v", err))
		}
		if t := p.BlockedTTL.Std(); c.lines[base+".blocked_ttl"] != 0 && (t < time.Second || t > 24*time.Hour || t%time.Second != 0) {
			add(c.errAt(base+".blocked_ttl", "must be whole seconds from 1s to 24h, got %s", t))
		}
	}
	return errs
}

func checkBlockedAnswer(v []string) error {
	if len(v) == 1 {
		switch v[0] {
		case "nxdomain", "null_ip", "nodata", "refused":
			return nil
		}
	}
	for _, s := range v {
		if _, err := netip.ParseAddr(s); err != nil {
			return fmt.Errorf("must be nxdomain, null_ip, nodata, refused or IP addresses, got %q", s)
		}
	}
	return nil
}

// ProfileNames returns the profile names, sorted.
func (c *Config) ProfileNames() []string { return sortedKeys(c.Profiles) }

// ListNames returns the list categories, sorted.
func (c *Config) ListNames() []string { return sortedKeys(c.Lists) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// keyedErrors turns "key: message" lines from a component's validation into
// errors that carry the key's line.
func (c *Config) keyedErrors(err error) Errors {
	var errs Errors
	for _, line := range strings.Split(err.Error(), "\n") {
		key, msg, ok := strings.Cut(line, ": ")
		if !ok {
			key, msg = "", line
		}
		errs = append(errs, c.errAt(key, "%s", msg))
	}
	return errs
}

// RateLimit is the rate_limit block: the per-client-prefix query limits XDP
// and the userspace limiter enforce (on when qps is set), and the bounds on
// open connections every transport shares (always on, with defaults).
type RateLimit struct {
	QPS        uint32         `yaml:"qps"`         // queries per second per client prefix
	Burst      uint32         `yaml:"burst"`       // bucket size in queries
	IPv4Prefix int            `yaml:"ipv4_prefix"` // bits of an IPv4 client that share a bucket; 0 means 32
	IPv6Prefix int            `yaml:"ipv6_prefix"` // bits of an IPv6 client that share a bucket; 0 means 64
	Slip       int            `yaml:"slip"`        // answer every Slip-th excess UDP query with TC=1; 0: drop all
	Allow      []netip.Prefix `yaml:"allow"`       // never limited
	Deny       []netip.Prefix `yaml:"deny"`        // always refused; the longest match wins, deny on a tie
	// MaxConnsPerPrefix bounds one client prefix's open connections, every
	// transport together; nil: DefaultMaxConnsPerPrefix, 0: unbounded.
	MaxConnsPerPrefix *int `yaml:"max_conns_per_prefix"`
	// MaxConns bounds open client connections on the node; nil:
	// DefaultMaxConns, 0: unbounded.
	MaxConns *int `yaml:"max_conns"`
}

// The connection bounds that apply when rate_limit does not set them.
const (
	DefaultMaxConnsPerPrefix = 256
	DefaultMaxConns          = 20000
)

// limitsOf is the ratelimit package's view of r (nil: no rate_limit block),
// the connection defaults filled in.
func limitsOf(r *RateLimit) ratelimit.Limits {
	l := ratelimit.Limits{MaxConns: DefaultMaxConnsPerPrefix, MaxConnsTotal: DefaultMaxConns}
	if r == nil {
		return l
	}
	l.QPS, l.Burst, l.Slip = r.QPS, r.Burst, r.Slip
	l.IPv4Prefix, l.IPv6Prefix, l.Allow, l.Deny = r.IPv4Prefix, r.IPv6Prefix, r.Allow, r.Deny
	if r.MaxConnsPerPrefix != nil {
		l.MaxConns = *r.MaxConnsPerPrefix
	}
	if r.MaxConns != nil {
		l.MaxConnsTotal = *r.MaxConns
	}
	return l
}

// QueryLimits are the per-client query limits, and whether they are on
// (rate_limit with qps and burst).
func (c *Config) QueryLimits() (ratelimit.Limits, bool) {
	return limitsOf(c.RateLimit), c.RateLimit != nil && (c.RateLimit.QPS != 0 || c.RateLimit.Burst != 0)
}

// ConnLimits are the connection bounds (and the prefixes and lists they
// share with the query limits), on with their defaults without rate_limit.
func (c *Config) ConnLimits() ratelimit.Limits { return limitsOf(c.RateLimit) }

// ACMEConfig is the certs package's view of tls.acme, paths resolved.
func (c *Config) ACMEConfig() certs.ACMEConfig {
	a := c.TLS.ACME
	return certs.ACMEConfig{
		Email: a.Email, CA: a.CA, CARoot: c.Path(a.CARoot), Challenges: a.Challenges,
		HTTPPort: a.HTTPPort, TLSALPNPort: a.TLSALPNPort, RenewalWindowRatio: a.RenewalWindowRatio,
		DNS: certs.DNSConfig{
			Provider: a.DNS.Provider, Server: a.DNS.Server, TSIGKey: a.DNS.TSIGKey, TSIGSecret: certs.Secret(a.DNS.TSIGSecret),
			TSIGSecretFile: c.Path(a.DNS.TSIGSecretFile), TSIGAlgorithm: a.DNS.TSIGAlgorithm,
		},
	}
}

// Path resolves a path from the configuration against BaseDir; absolute
// paths and "" are returned unchanged.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.BaseDir(), p)
}

// checkListFile reports a local list that cannot be opened: a list that is
// missing at start has no earlier version to serve, so its category would
// block nothing. Remote lists are fetched at start and may fail then.
func (c *Config) checkListFile(location string) error {
	if filter.IsRemote(location) {
		return nil
	}
	path := c.Path(location)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("list file %s does not exist", path)
	}
	if err != nil {
		return fmt.Errorf("list file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return fmt.Errorf("list file %s is a directory", path)
	}
	return nil
}

// ListSource splits a list entry into its location and declared format:
// "lists/adult.zone#rpz" is an RPZ file; without "#format" the format is
// detected from the content.
func ListSource(entry string) (location string, format filter.Format, err error) {
	location, name, declared := strings.Cut(entry, "#")
	if !declared {
		return entry, filter.FormatAuto, nil
	}
	format, err = filter.ParseFormat(name)
	if err != nil {
		return "", 0, fmt.Errorf("unknown list format %q after # (want hosts, domains, wildcard, adblock or rpz)", name)
	}
	return location, format, nil
}
