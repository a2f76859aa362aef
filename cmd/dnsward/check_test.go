package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dnsward/dnsward/internal/testpki"
)

// fullConfig sets every section check summarizes; its relative paths are
// resolved against the working directory the test moves to.
const fullConfig = `listen:
  dns: ["127.0.0.1:8053", "127.0.0.3:8053"]
  doh: ["127.0.0.1:8443"]
  doh_plain: ["127.0.0.1:8080"]
  dot: ["127.0.0.1:8853"]
  doq: ["[::1]:8853"]
  metrics: "127.0.0.1:9153"
upstreams: [udp://127.0.0.1:5300, "tls://127.0.0.1:5301#dns.example"]
upstream_timeout: 2s
cache: {size: 5000, min_ttl: 1m, max_ttl: 1h30m, serve_stale: 12h}
log: {level: debug, format: json}
data_dir: data
server_name: dns.example
tls: {mode: files, cert_file: certs/chain.pem, key_file: certs/key.pem, check_interval: 30s}
trusted_proxies: [10.0.0.0/8, "fd00::/8"]
proxy_protocol: true
lists:
  malware: [lists/malware.hosts]
  ads: ["lists/ads.txt#adblock", "https://user:secret@lists.example/ads.txt?token=secret#hosts"]
  adult: []
list_refresh: 6h
forward_zones: {corp.example: [udp://10.0.0.53, tcp://10.0.0.54], 10.in-addr.arpa: [udp://10.0.0.53]}
local_records: ["nas.home.example. 300 IN A 192.0.2.5", "*.lab.example. IN A 192.0.2.6"]
local_zone_files: [zones/home.zone]
local_ptr: true
threat_intel:
  misp:
    - {name: cert-feed, feed: "https://misp.example/feeds/osint/", category: malware}
    - {name: cert-api, url: "https://misp.example", api_key_file: misp.key, ca_file: certs/misp-ca.pem, category: threats,
       tags: ["tlp:white", "tlp:green"], max_age: 90d, sightings: true}
  warninglists: [warninglists/]
  refresh: 10m
default_profile: open
profiles:
  open: {}
  kids: {paths: [/kids], hosts: [kids.dns.example], addrs: [127.0.0.3], block: [malware, adult], allow: [ok.example],
         deny: [no.example], safe_search: true, blocked_answer: ["0.0.0.0", "::"]}
  corp: {paths: [/corp], block: [threats], forward_zones: {dev.corp.example: [udp://10.0.1.53]}, local_records: ["wiki.corp.example. IN A 10.0.0.9"]}
  noads: {paths: [/noads], block: [ads]}
clients:
  office-pc: {profile: corp}
  annas-phone: {profile: kids}
unknown_clients: refuse
metrics: {client_ids: true}
rate_limit: {qps: 20, burst: 40, ipv6_prefix: 56, slip: 2, allow: [127.0.0.0/8], deny: ["192.0.2.0/24"], max_conns_per_prefix: 10}
xdp: {interfaces: [lo]}
doq: {allow_0rtt: true, retry_above: 0}
`

const fullSummary = `c.yaml: OK
  listen.dns          127.0.0.1:8053  plain DNS, UDP and TCP
  listen.dns          127.0.0.3:8053  plain DNS, UDP and TCP
  listen.doh          127.0.0.1:8443  DoH: HTTP/1.1 and HTTP/2 on TCP, HTTP/3 on UDP
  listen.doh_plain    127.0.0.1:8080  DoH over cleartext HTTP/1.1, behind a TLS proxy
  listen.dot          127.0.0.1:8853  DNS over TLS (TCP)
  listen.doq          [::1]:8853      DNS over QUIC (UDP)
  listen.metrics      127.0.0.1:9153  /metrics, /healthz, /readyz, /debug/limits
  trusted_proxies     10.0.0.0/8, fd00::/8
  proxy_protocol      on
  tls.mode            files
  tls.cert_file       certs/chain.pem
  tls.key_file        certs/key.pem
  tls.check_interval  30s
  server_name         dns.example  certificate names: dns.example, kids.dns.example
  upstreams           udp://127.0.0.1:5300
  upstreams           tls://127.0.0.1:5301#dns.example
  upstream_timeout    2s; upstream_try_timeout 1s; upstream_max_pending 4096
  cache               5000 entries, TTLs 1m to 1h30m, serve_stale 12h
  forward_zones       10.in-addr.arpa  udp://10.0.0.53
  forward_zones       corp.example     udp://10.0.0.53, tcp://10.0.0.54
  local_records       2 inline; local_zone_files zones/home.zone; local_ptr on
  lists.ads           lists/ads.txt                  file, format adblock
  lists.ads           https://lists.example/ads.txt  remote, format hosts
  lists.adult         (none)                         the category is empty
  lists.malware       lists/malware.hosts            file, format detected
  list_refresh        6h (remote lists; local files are re-read when they change)
  threat_intel.misp   cert-feed: feed https://misp.example/feeds/osint/
  threat_intel.misp   cert-feed: category malware
  threat_intel.misp   cert-api: REST API https://misp.example, key from file misp.key
  threat_intel.misp   cert-api: category threats; ca_file certs/misp-ca.pem; tags tlp:white, tlp:green; max_age 2160h; sightings on
  threat_intel        warninglists warninglists
  threat_intel        refresh 10m; sightings from source dns.example, every 5m at most once per attribute
  default_profile     open
  profiles.corp       paths /corp; block threats; blocked_answer nxdomain; forward_zones dev.corp.example to udp://10.0.1.53; local_records 1 inline; local_ptr off
  profiles.kids       paths /kids; hosts kids.dns.example; addrs 127.0.0.3; block malware, adult; allow ok.example; deny no.example; safe_search; blocked_answer 0.0.0.0, ::
  profiles.noads      paths /noads; block ads; blocked_answer nxdomain
  profiles.open       no path, host or address; filters nothing
  clients             annas-phone  profile kids
  clients             office-pc    profile corp
  unknown_clients     refuse
  metrics.client_ids  on
  onboarding          setup page at / and /setup/<profile> on the DoH listeners, service "dnsward"; shows corp, kids, noads, open
  onboarding          check off; .mobileconfig unsigned; contact none; privacy_url none
  rate_limit          20 qps, burst 40 per client /32 (IPv4) or /56 (IPv6)
  rate_limit          slip 2: 1 in 2 excess UDP queries answered TC=1, the rest dropped
  rate_limit          allow 127.0.0.0/8; deny 192.0.2.0/24
  rate_limit          connections: max_conns_per_prefix 10, max_conns 20000 (every transport together)
  xdp                 interfaces lo, mode auto
  doq                 0-RTT on; Retry never
  data_dir            data
  log                 level debug, format json, pressure summary every 10s at most
  query_log           off; clients written as pseudonym in /debug/limits and xdp stats
`

// TestCheckSummary: check prints every setting it validated (it printed
// only the plain listener, metrics, upstreams and cache), in the same
// order every run, and never a remote list's credentials.
func TestCheckSummary(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, d := range []string{"lists", "certs", "warninglists", "zones"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, "lists/malware.hosts", "0.0.0.0 bad.example\n")
	writeFile(t, "misp.key", "the-secret-api-key\n")
	writeFile(t, "certs/misp-ca.pem", string(testpki.NewCA("misp").RootPEM()))
	writeFile(t, "lists/ads.txt", "||ads.example^\n")
	writeFile(t, "zones/home.zone", "$ORIGIN home.example.\n@ IN SOA ns admin 1 2 3 4 5\nprinter IN CNAME nas\n")
	writeFile(t, "c.yaml", fullConfig)
	for range 3 { // map order must not show
		var out, errOut bytes.Buffer
		if code := run([]string{"check", "--config", "c.yaml"}, &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		if strings.Contains(out.String(), "the-secret-api-key") {
			t.Fatal("the summary shows the MISP API key")
		}
		if out.String() != fullSummary {
			t.Fatalf("summary\n%s\nwant\n%s", out.String(), fullSummary)
		}
	}
}

// TestCheckDefault: check without --config summarizes the embedded default
// (it required --config), and --print-default prints it as a file that
// checks to the same summary.
func TestCheckDefault(t *testing.T) {
	dir := t.TempDir()
	resolvConf = filepath.Join(dir, "resolv.conf")
	t.Cleanup(func() { resolvConf = "/etc/resolv.conf" })
	writeFile(t, resolvConf, "nameserver 127.0.0.53\n")
	var embedded, errOut bytes.Buffer
	if code := run([]string{"check"}, &embedded, &errOut); code != 0 {
		t.Fatalf("check: exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"(embedded default): OK\n", "upstreams             udp://127.0.0.53:53\n",
		"serve_stale 24h", "profiles.child-noads  paths /child-ads, /child-noads; hosts child-noads.localhost; block malware, ads, adult; safe_search"} {
		if !strings.Contains(embedded.String(), want) {
			t.Errorf("embedded summary lacks %q:\n%s", want, embedded.String())
		}
	}
	var yaml bytes.Buffer
	if code := run([]string{"check", "--print-default"}, &yaml, &errOut); code != 0 {
		t.Fatalf("--print-default: exit %d: %s", code, errOut.String())
	}
	file := filepath.Join(dir, "dnsward.yaml")
	writeFile(t, file, yaml.String())
	var printed bytes.Buffer
	if code := run([]string{"check", "--config", file}, &printed, &errOut); code != 0 {
		t.Fatalf("check of the printed default: exit %d: %s", code, errOut.String())
	}
	_, got, _ := strings.Cut(printed.String(), "\n")
	_, want, _ := strings.Cut(embedded.String(), "\n")
	if got != want {
		t.Fatalf("the printed default checks to\n%s\nthe embedded one to\n%s", got, want)
	}
	if code := run([]string{"check", "--print-default", "--config", file}, &printed, &errOut); code != 2 {
		t.Errorf("--print-default with --config: exit %d, want 2", code)
	}
}

// TestCheckDNS01: check shows the dns-01 provider and never its TSIG secret.
func TestCheckDNS01(t *testing.T) {
	t.Chdir(t.TempDir())
	const secret = "c2VjcmV0c2VjcmV0c2VjcmV0"
	writeFile(t, "c.yaml", `listen: {dot: ["127.0.0.1:8853"]}
upstreams: [udp://127.0.0.1:5300]
server_name: "*.dns.example"
tls:
  mode: acme
  acme:
    challenges: [dns-01]
    dns: {provider: rfc2136, server: "127.0.0.1:53", tsig_key: acme-key, tsig_secret: "`+secret+`"}
`)
	var out, errOut bytes.Buffer
	if code := run([]string{"check", "--config", "c.yaml"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "tls.acme.dns        provider rfc2136, server 127.0.0.1:53, tsig_key acme-key") {
		t.Errorf("no dns-01 provider line:\n%s", out.String())
	}
	if strings.Contains(out.String()+errOut.String(), secret) {
		t.Errorf("the TSIG secret is printed:\n%s", out.String())
	}
}
