package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseExample(t *testing.T) {
	const example = `
listen:
  dns: ["127.0.0.1:8053"]        # plain DNS, UDP and TCP on each address
  metrics: "127.0.0.1:9153"      # /metrics (Prometheus), /healthz, /readyz
upstreams:                       # tried in order of health and latency; failover on error or timeout
  - udp://127.0.0.1:5300         # UDP with TCP retry on TC=1
  - tcp://127.0.0.1:5300
  - tls://127.0.0.1:5301#dns.example   # DoT; the part after # is the name to verify
  - https://127.0.0.1:5302/dns-query   # DoH
cache:
  size: 100000                   # entries
  serve_stale: 24h               # RFC 8767, answers marked with EDE 3
`
	cfg, err := Parse("example.yaml", []byte(example))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Upstreams) != 4 || cfg.Cache.Size != 100000 || time.Duration(cfg.Cache.ServeStale) != 24*time.Hour {
		t.Fatalf("decoded %+v", cfg)
	}
	if cfg.Listen.Metrics != "127.0.0.1:9153" || cfg.Listen.DNS[0] != "127.0.0.1:8053" {
		t.Fatalf("listen decoded as %+v", cfg.Listen)
	}
}

// TestUpstreamTryTimeout: the per-try timeout defaults to half the budget,
// at most 3 s, and an explicit value is kept.
func TestUpstreamTryTimeout(t *testing.T) {
	const base = "listen:\n  dns: [\"127.0.0.1:8053\"]\nupstreams: [udp://127.0.0.1:5300]\n"
	tests := []struct {
		yaml string
		want time.Duration
	}{
		{"", 2500 * time.Millisecond},
		{"upstream_timeout: 2s\n", time.Second},
		{"upstream_timeout: 20s\n", 3 * time.Second},
		{"upstream_try_timeout: 4s\n", 4 * time.Second},
		{"upstream_timeout: 20s\nupstream_try_timeout: 8s\n", 8 * time.Second},
	}
	for _, tt := range tests {
		cfg, err := Parse("c.yaml", []byte(base+tt.yaml))
		if err != nil {
			t.Fatalf("%q: %v", tt.yaml, err)
		}
		if got := cfg.UpstreamTryTimeout.Std(); got != tt.want {
			t.Errorf("%q: try timeout %v, want %v", tt.yaml, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	const base = "listen:\n  dns: [\"127.0.0.1:8053\"]\nupstreams: [udp://127.0.0.1:5300]\n"
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"unknown top-level key", base + "caches:\n  size: 1\n",
			"c.yaml:4: caches: unknown key (known keys: cache, clients, data_dir, default_profile, doh, doq, forward_zones, list_refresh, listen, lists, local_ptr, local_records, local_zone_files, log, metrics, onboarding, profiles, proxy_protocol, query_log, rate_limit, server_name, threat_intel, tls, trusted_proxies, unknown_clients, upstream_max_pending, upstream_timeout, upstream_try_timeout, upstreams, xdp)"},
		{"unknown nested key", base + "cache:\n  sise: 10\n",
			"c.yaml:5: cache.sise: unknown key (known keys: max_ttl, min_ttl, serve_stale, size)"},
		{"wrong type integer", base + "cache:\n  size: lots\n",
			`c.yaml:5: cache.size: expected an integer, got "lots"`},
		{"bad duration", base + "cache:\n  serve_stale: 1 day\n",
			`c.yaml:5: cache.serve_stale: expected a duration such as 30s or 24h, got "1 day"`},
		{"mapping where list expected", base + "cache: [1, 2]\n",
			"c.yaml:4: cache: expected a mapping of keys, got a list"},
		{"bad listen address", "listen:\n  dns: [\"localhost:53\"]\nupstreams: [udp://127.0.0.1:5300]\n",
			`c.yaml:2: listen.dns[0]: expected a literal IP address, got "localhost"`},
		{"port out of range", "listen:\n  dns: [\"127.0.0.1:70000\"]\nupstreams: [udp://127.0.0.1:5300]\n",
			`c.yaml:2: listen.dns[0]: expected a port 1-65535, got "70000"`},
		{"bad upstream scheme", "listen:\n  dns: [\"127.0.0.1:53\"]\nupstreams:\n  - ftp://127.0.0.1\n",
			`c.yaml:4: upstreams[0]: upstream URL "ftp://127.0.0.1": unsupported scheme "ftp" (want udp, tcp, tls, https, h3 or quic)`},
		{"udp buffer too small", "listen:\n  dns: [\"127.0.0.1:53\"]\n  udp_buffer: 100\nupstreams: [udp://127.0.0.1:5300]\n",
			"c.yaml:3: listen.udp_buffer: must be between 4096 and 1073741824 bytes, got 100"},
		{"negative udp pending bound", "listen:\n  dns: [\"127.0.0.1:53\"]\n  udp_max_pending: -1\nupstreams: [udp://127.0.0.1:5300]\n",
			"c.yaml:3: listen.udp_max_pending: must not be negative, got -1"},
		{"too many udp readers", "listen:\n  dns: [\"127.0.0.1:53\"]\n  udp_readers: 1000\nupstreams: [udp://127.0.0.1:5300]\n",
			"c.yaml:3: listen.udp_readers: must be between 0 and 64, got 1000"},
		{"no upstreams", "listen:\n  dns: [\"127.0.0.1:53\"]\n",
			"c.yaml: upstreams: at least one upstream is required"},
		{"no listeners", "upstreams: [udp://127.0.0.1:5300]\n",
			"c.yaml: listen: no listener configured: set listen.dns, doh, doh_plain, dot or doq"},
		{"bad log level", base + "log:\n  level: loud\n",
			`c.yaml:5: log.level: must be debug, info, warn or error, got "loud"`},
		{"min above max ttl", base + "cache:\n  min_ttl: 2h\n  max_ttl: 1h\n",
			"c.yaml:5: cache.min_ttl: is larger than cache.max_ttl"},
		{"try timeout over the budget", base + "upstream_timeout: 2s\nupstream_try_timeout: 3s\n",
			"c.yaml:5: upstream_try_timeout: 3s is longer than upstream_timeout (2s), which bounds the whole resolution"},
		{"negative try timeout", base + "upstream_try_timeout: -1s\n",
			`c.yaml:4: upstream_try_timeout: expected a duration such as 30s or 24h, got "-1s"`},
		{"negative size", base + "cache:\n  size: -1\n",
			"c.yaml:5: cache.size: must not be negative, got -1"},
		{"invalid yaml", "listen: [\n", "c.yaml: not valid YAML: yaml: line 1: did not find expected node content"},
		{"empty file", "", "c.yaml: the file is empty"},
		{"forward zone without upstreams", base + "forward_zones:\n  corp.example: []\n",
			"c.yaml:5: forward_zones.corp.example: at least one upstream is required"},
		{"forward zone bad upstream", base + "forward_zones:\n  corp.example: [ftp://10.0.0.53]\n",
			`c.yaml:5: forward_zones.corp.example[0]: upstream URL "ftp://10.0.0.53": unsupported scheme "ftp" (want udp, tcp, tls, https, h3 or quic)`},
		{"forward zone the root", base + "forward_zones:\n  \".\": [udp://10.0.0.53]\n",
			`c.yaml:5: forward_zones..: forward zone ".": not a domain name below the root`},
		{"forward zone twice", base + "default_profile: a\nprofiles:\n  a:\n    forward_zones: {corp.example: [udp://10.0.0.53], Corp.Example.: [udp://10.0.0.54]}\n",
			`c.yaml:7: profiles.a.forward_zones.corp.example: the same zone as "Corp.Example."`},
		{"bad local record", base + "local_records:\n  - nas.home.example. 300 IN A 192.0.2.300\n",
			`c.yaml:5: local_records[0]: "nas.home.example. 300 IN A 192.0.2.300": dns: bad A A: "192.0.2.300"`},
		{"unsupported local record", base + "default_profile: a\nprofiles:\n  a:\n    local_records: [\"x.example. IN DNAME y.example.\"]\n",
			`c.yaml:7: profiles.a.local_records[0]: "x.example. IN DNAME y.example.": type DNAME is not supported (A, AAAA, CNAME, TXT, PTR, MX, SRV, NS, SOA)`},
		{"CNAME and other data", base + "local_records: [\"x.example. IN CNAME y.example.\", \"x.example. IN A 192.0.2.1\"]\n",
			"c.yaml:4: local_records: x.example.: a CNAME record and other records: a CNAME owner has no other data (RFC 1034 §3.6.2)"},
		{"missing zone file", base + "local_zone_files: [nope.zone]\n",
			"c.yaml:4: local_zone_files[0]: open nope.zone: no such file or directory"},
		{"local_ptr without records", base + "local_ptr: true\n",
			"c.yaml:4: local_ptr: there are no local_records or local_zone_files to answer PTR queries for"},
		{"path used by two profiles", base + "lists: {ads: []}\ndefault_profile: a\nprofiles:\n  a: {paths: [/x]}\n  b: {paths: [/x]}\n",
			`c.yaml:8: profiles.b.paths[0]: path "/x" is used by both profiles "a" and "b"`},
		{"host used by two profiles", base + "default_profile: a\nprofiles:\n  a: {hosts: [kids.example]}\n  b: {hosts: [KIDS.example.]}\n",
			`c.yaml:7: profiles.b.hosts[0]: host "kids.example" is used by both profiles "a" and "b"`},
		{"undefined category", base + "lists: {ads: []}\ndefault_profile: a\nprofiles:\n  a: {block: [malware]}\n",
			`c.yaml:7: profiles.a.block[0]: list category "malware" is not defined under lists (defined: ads)`},
		{"malformed client ID", base + "profiles:\n  a: {}\nclients:\n  Annas_Phone: {profile: a}\n",
			`c.yaml:7: clients.Annas_Phone: "Annas_Phone" is not a client ID: a lower-case DNS label of 1-63 letters, digits and hyphens (not dns-query or resolve)`},
		{"reserved client ID", base + "profiles:\n  a: {}\nclients:\n  dns-query: {profile: a}\n",
			`c.yaml:7: clients.dns-query: "dns-query" is not a client ID: a lower-case DNS label of 1-63 letters, digits and hyphens (not dns-query or resolve)`},
		{"client of an undefined profile", base + "profiles:\n  a: {}\nclients:\n  annas-phone: {profile: child}\n",
			`c.yaml:7: clients.annas-phone.profile: profile "child" is not defined (defined: a)`},
		{"client without a profile", base + "profiles:\n  a: {}\nclients:\n  annas-phone: {}\n",
			`c.yaml:7: clients.annas-phone: no profile given`},
		{"unknown client key", base + "clients:\n  annas-phone: {profil: a}\n",
			`c.yaml:5: clients.annas-phone.profil: unknown key (known keys: profile)`},
		{"bad unknown_clients", base + "unknown_clients: drop\n",
			`c.yaml:4: unknown_clients: must be accept or refuse, got "drop"`},
		{"metrics.client_ids not a boolean", base + "metrics:\n  client_ids: yes please\n",
			`c.yaml:5: metrics.client_ids: expected true or false, got "yes please"`},
		{"undefined default profile", base + "default_profile: zz\nprofiles:\n  a: {}\n",
			`c.yaml:4: default_profile: profile "zz" is not defined`},
		{"bad blocked answer", base + "default_profile: a\nprofiles:\n  a: {blocked_answer: sinkhole}\n",
			`c.yaml:6: profiles.a.blocked_answer: must be nxdomain, null_ip, nodata, refused or IP addresses, got "sinkhole"`},
		{"blocked TTL of zero", base + "default_profile: a\nprofiles:\n  a: {blocked_ttl: 0s}\n",
			`c.yaml:6: profiles.a.blocked_ttl: must be whole seconds from 1s to 24h, got 0s`},
		{"blocked TTL in milliseconds", base + "default_profile: a\nprofiles:\n  a: {blocked_ttl: 1500ms}\n",
			`c.yaml:6: profiles.a.blocked_ttl: must be whole seconds from 1s to 24h, got 1.5s`},
		{"blocked TTL over a day", base + "default_profile: a\nprofiles:\n  a: {blocked_ttl: 25h}\n",
			`c.yaml:6: profiles.a.blocked_ttl: must be whole seconds from 1s to 24h, got 25h0m0s`},
		{"bad profile address", base + "default_profile: a\nprofiles:\n  a: {addrs: [127.0.0.300]}\n",
			`c.yaml:6: profiles.a.addrs[0]: expected an IP address, got "127.0.0.300"`},
		{"zero rate limit", base + "rate_limit:\n  qps: 0\n  burst: 10\n",
			"c.yaml:5: rate_limit.qps: must be > 0"},
		{"bad rate limit prefix", base + "rate_limit:\n  qps: 1\n  burst: 10\n  allow: [10.0.0.0/99]\n",
			`c.yaml:7: rate_limit.allow[0]: netip.ParsePrefix("10.0.0.0/99"): prefix length out of range`},
		{"bad trusted proxy", base + "trusted_proxies: [proxy.example]\n",
			`c.yaml:4: trusted_proxies[0]: expected a CIDR prefix such as 10.0.0.0/8, got "proxy.example"`},
		{"bad server name", base + "server_name: \"dns example\"\n",
			`c.yaml:4: server_name: "dns example" is not a valid host name`},
		{"files mode without files", base + "tls:\n  mode: files\n",
			"c.yaml:5: tls.mode: files mode needs tls.cert_file"},
		{"acme bad email", base + "server_name: dns.example\ntls:\n  mode: acme\n  acme:\n    email: \"ops at example\"\n",
			`c.yaml:8: tls.acme.email: "ops at example" is not a plain e-mail address`},
		{"acme plain http CA", base + "server_name: dns.example\ntls:\n  mode: acme\n  acme:\n    ca: http://ca.example/dir\n",
			`c.yaml:8: tls.acme.ca: "http://ca.example/dir" is not an https:// directory URL`},
		{"acme unknown challenge", base + "server_name: dns.example\ntls:\n  mode: acme\n  acme:\n    challenges: [dns-02]\n",
			`c.yaml:8: tls.acme.challenges: "dns-02" is not one of tls-alpn-01, http-01, dns-01`},
		{"wildcard without dns-01", base + "server_name: \"*.dns.example\"\ntls: {mode: acme, acme: {challenges: [tls-alpn-01]}}\n",
			`c.yaml:4: server_name: wildcard "*.dns.example" needs tls.mode acme with tls.acme.challenges: [dns-01]`},
		{"wildcard self-signed", base + "server_name: \"*.dns.example\"\n",
			`c.yaml:4: server_name: wildcard "*.dns.example" needs tls.mode acme`},
		{"dns-01 without tls.acme.dns", base + "server_name: dns.example\ntls:\n  mode: acme\n  acme:\n    challenges: [dns-01]\n",
			"c.yaml: tls.acme.dns.provider: required with dns-01 (rfc2136)"},
		{"dns-01 secret file missing", base + "server_name: \"*.dns.example\"\ntls:\n  mode: acme\n  acme:\n    challenges: [dns-01]\n" +
			"    dns: {provider: rfc2136, server: \"192.0.2.53:53\", tsig_key: acme-key, tsig_secret_file: /nonexistent/tsig}\n",
			"c.yaml:9: tls.acme.dns.tsig_secret_file: open /nonexistent/tsig"},
		{"dns-01 secret not base64", base + "server_name: dns.example\ntls:\n  mode: acme\n  acme:\n    challenges: [dns-01]\n    dns:\n" +
			"      provider: rfc2136\n      server: \"192.0.2.53:53\"\n      tsig_key: acme-key\n      tsig_secret: \"s3cr#t\"\n",
			"c.yaml:13: tls.acme.dns.tsig_secret: not a base64 TSIG secret"},
		{"acme CA root missing", base + "server_name: dns.example\ntls:\n  mode: acme\n  acme:\n    ca_root: missing.pem\n",
			"c.yaml:8: tls.acme.ca_root: open missing.pem"},
		{"acme bad port", base + "server_name: dns.example\ntls:\n  mode: acme\n  acme:\n    http_port: 70000\n",
			"c.yaml:8: tls.acme.http_port: 70000 is not a port"},
		{"acme renewal ratio", base + "server_name: dns.example\ntls:\n  mode: acme\n  acme:\n    renewal_window_ratio: 1.5\n",
			"c.yaml:8: tls.acme.renewal_window_ratio: 1.5 is not in [0, 1)"},
		{"acme renewal ratio outside acme mode", base + "tls:\n  acme:\n    renewal_window_ratio: -1\n",
			"c.yaml:6: tls.acme.renewal_window_ratio: -1 is not in [0, 1)"},
		{"unknown list format", base + "lists:\n  ads: [ads.txt#hostz]\n",
			`c.yaml:5: lists.ads[0]: unknown list format "hostz" after # (want hosts, domains, wildcard, adblock or rpz)`},
		{"missing list file", base + "lists:\n  ads:\n    - https://127.0.0.1/ads.txt\n    - missing.txt\n",
			"c.yaml:7: lists.ads[1]: list file missing.txt does not exist"},
		{"list file is a folder", base + "lists:\n  ads: [testdata]\n",
			"c.yaml:5: lists.ads[0]: list file testdata is a directory"},
		{"unknown HTTP/2 engine", base + "doh:\n  http2: nghttp2\n",
			`c.yaml:5: doh.http2: must be builtin or stdlib, got "nghttp2"`},
		{"unknown HTTP/3 engine", base + "doh:\n  http3: nghttp3\n",
			`c.yaml:5: doh.http3: must be builtin or stdlib, got "nghttp3"`},
		{"xdp without interfaces", base + "rate_limit: {qps: 1, burst: 1}\nxdp:\n  mode: native\n",
			"c.yaml: xdp.interfaces: at least one interface is required"},
		{"xdp mode unknown", base + "rate_limit: {qps: 1, burst: 1}\nxdp:\n  interfaces: [lo]\n  mode: bogus\n",
			`c.yaml:7: xdp.mode: must be auto, native or generic, got "bogus"`},
		{"xdp without listen.dns", "listen:\n  dot: [\"127.0.0.1:8853\"]\nupstreams: [udp://127.0.0.1:5300]\nrate_limit: {qps: 1, burst: 1}\nxdp: {interfaces: [lo]}\n",
			"c.yaml:5: xdp: needs listen.dns: XDP polices the plain-UDP ports dnsward listens on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if got := err.Error(); !strings.Contains(got, tt.want) {
				t.Fatalf("error\n  %s\nwant it to contain\n  %s", got, tt.want)
			}
		})
	}
}

// TestACMEDNS01Contract parses issue 16's dns-01 example: a wildcard
// server_name with an RFC 2136 provider whose TSIG secret comes from a file
// (relative to the configuration file) or inline.
func TestACMEDNS01Contract(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tsig"), []byte("c2VjcmV0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"tsig_secret_file: tsig", "tsig_secret: c2VjcmV0"} {
		cfg, err := Parse(filepath.Join(dir, "c.yaml"), []byte(`listen: {dot: ["127.0.0.1:8853"]}
upstreams: [udp://127.0.0.1:5300]
server_name: "*.dns.example"
tls:
  mode: acme
  acme:
    challenges: [dns-01]
    dns: {provider: rfc2136, server: "192.0.2.53:53", tsig_key: acme-key, `+secret+`,
          tsig_algorithm: hmac-sha256}
`))
		if err != nil {
			t.Fatalf("%s: %v", secret, err)
		}
		a, err := cfg.ACMEConfig().Validate()
		if err != nil || a.DNS.Server != "192.0.2.53:53" || a.DNS.TSIGKey != "acme-key." || a.DNS.TSIGSecret != "c2VjcmV0" {
			t.Errorf("%s: %+v, %v", secret, a.DNS, err)
		}
	}
}

// TestACMECARootRelative: a relative tls.acme.ca_root is read from the
// configuration file's folder, and the error names that path.
func TestACMECARootRelative(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	_, err := Parse(file, []byte("listen: {dns: [\"127.0.0.1:8053\"]}\nupstreams: [udp://127.0.0.1:5300]\n"+
		"server_name: dns.example\ntls: {mode: acme, acme: {ca_root: roots.pem}}\n"))
	if want := file + ":4: tls.acme.ca_root: open " + filepath.Join(dir, "roots.pem"); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want it to contain %q", err, want)
	}
}
