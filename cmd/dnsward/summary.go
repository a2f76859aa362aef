package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/resolver/filter"
)

// rows collects "key value" lines that tabwriter aligns.
type rows struct{ w io.Writer }

// add writes one line; a tab in the value starts another aligned column.
func (r rows) add(key, format string, args ...any) {
	fmt.Fprintf(r.w, "  %s\t%s\n", key, fmt.Sprintf(format, args...))
}

// summary writes what a valid configuration runs: every setting, keyed by
// its configuration key, in a fixed order (maps sorted) with unset sections
// said to be off, so that the same file always prints the same text.
func summary(w io.Writer, cfg *config.Config) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "%s: OK\n", cfg.File)
	r := rows{tw}
	listenRows(r, cfg)
	tlsRows(r, cfg)
	resolverRows(r, cfg)
	resolvingRows(r, cfg)
	listRows(r, cfg)
	threatIntelRows(r, cfg)
	profileRows(r, cfg)
	onboardingRows(r, cfg)
	limitRows(r, cfg)
	r.add("data_dir", "%s", cfg.DataDir)
	r.add("log", "level %s, format %s, pressure summary every %s at most", cfg.Log.Level, cfg.Log.Format, cfg.Log.PressureInterval.Std())
	if cfg.QueryLog == nil {
		r.add("query_log", "off; clients written as %s in /debug/limits and xdp stats", cfg.ClientMode())
	} else {
		r.add("query_log", "clients written as %s", cfg.ClientMode())
		for _, sink := range cfg.QueryLogConfig(nil).Sinks {
			r.add("query_log.sinks", "%s", sink.Name())
		}
	}
	return tw.Flush()
}

func listenRows(r rows, cfg *config.Config) {
	l := cfg.Listen
	for _, f := range []struct {
		key, what string
		addrs     []string
	}{
		{"listen.dns", "plain DNS, UDP and TCP", l.DNS},
		{"listen.doh", "DoH: HTTP/1.1 and HTTP/2 on TCP, HTTP/3 on UDP", l.DoH},
		{"listen.doh_plain", "DoH over cleartext HTTP/1.1, behind a TLS proxy", l.DoHPlain},
		{"listen.dot", "DNS over TLS (TCP)", l.DoT},
		{"listen.doq", "DNS over QUIC (UDP)", l.DoQ},
	} {
		for _, a := range f.addrs {
			r.add(f.key, "%s\t%s", a, f.what)
		}
	}
	if l.Metrics == "" {
		r.add("listen.metrics", "off")
	} else {
		r.add("listen.metrics", "%s\t/metrics, /healthz, /readyz, /debug/limits", l.Metrics)
	}
	r.add("trusted_proxies", "%s", list(cfg.TrustedProxies))
	r.add("proxy_protocol", "%s", onOff(cfg.ProxyProtocol))
}

func tlsRows(r rows, cfg *config.Config) {
	mode := cfg.TLS.Mode
	if mode == "" {
		mode = "self_signed"
	}
	if len(cfg.Listen.DoH)+len(cfg.Listen.DoT)+len(cfg.Listen.DoQ) == 0 {
		mode += " (unused: no doh, dot or doq listener)"
	}
	r.add("tls.mode", "%s", mode)
	switch cfg.TLS.Mode {
	case "files":
		r.add("tls.cert_file", "%s", cfg.Path(cfg.TLS.CertFile))
		r.add("tls.key_file", "%s", cfg.Path(cfg.TLS.KeyFile))
	case "acme":
		a, _ := cfg.ACMEConfig().Validate() // validated by config; fills the defaults
		r.add("tls.acme", "email %s, ca %s", orNone(a.Email), a.CA)
		r.add("tls.acme", "challenges %s, http_port %d, tls_alpn_port %d", strings.Join(a.Challenges, ", "), a.HTTPPort, a.TLSALPNPort)
		if a.CARoot != "" {
			r.add("tls.acme", "ca_root %s", a.CARoot)
		}
		if a.RenewalWindowRatio != 0 {
			r.add("tls.acme", "renewal_window_ratio %v", a.RenewalWindowRatio)
		}
		if d := cfg.TLS.ACME.DNS; d.Provider != "" {
			secret := "tsig_secret (inline, not shown)"
			if d.TSIGSecretFile != "" {
				secret = "tsig_secret_file " + cfg.Path(d.TSIGSecretFile)
			}
			r.add("tls.acme.dns", "provider %s, server %s, tsig_key %s, tsig_algorithm %s, %s", d.Provider, d.Server, d.TSIGKey, orNone(d.TSIGAlgorithm), secret)
		}
	}
	if cfg.TLS.CheckInterval == 0 {
		r.add("tls.check_interval", "the mode's default")
	} else {
		r.add("tls.check_interval", "%s", cfg.TLS.CheckInterval.String())
	}
	names := []string{cfg.ServerName}
	for _, p := range cfg.ProfileNames() {
		names = append(names, cfg.Profiles[p].Hosts...)
	}
	r.add("server_name", "%s\tcertificate names: %s", cfg.ServerName, strings.Join(names, ", "))
}

func resolverRows(r rows, cfg *config.Config) {
	for _, u := range cfg.Upstreams {
		r.add("upstreams", "%s", u)
	}
	r.add("upstream_timeout", "%s; upstream_try_timeout %s; upstream_max_pending %d", cfg.UpstreamTimeout.String(),
		cfg.UpstreamTryTimeout.String(), cfg.UpstreamMaxPending)
	c := cfg.Cache
	if c.Size == 0 {
		r.add("cache", "off")
		return
	}
	stale := "off"
	if c.ServeStale > 0 {
		stale = c.ServeStale.String()
	}
	r.add("cache", "%d entries, TTLs %s to %s, serve_stale %s", c.Size, c.MinTTL.String(), c.MaxTTL.String(), stale)
}

func listRows(r rows, cfg *config.Config) {
	for _, cat := range cfg.ListNames() {
		key := "lists." + cat
		if len(cfg.Lists[cat]) == 0 {
			r.add(key, "(none)\tthe category is empty")
		}
		for _, entry := range cfg.Lists[cat] {
			loc, format, _ := config.ListSource(entry) // validated by config
			kind := "file"
			if filter.IsRemote(loc) {
				kind = "remote"
			} else {
				loc = cfg.Path(loc)
			}
			fmtName := format.String()
			if format == filter.FormatAuto {
				fmtName = "detected"
			}
			r.add(key, "%s\t%s, format %s", filter.LocationName(loc), kind, fmtName)
		}
	}
	r.add("list_refresh", "%s (remote lists; local files are re-read when they change)", cfg.ListRefresh.String())
}

func profileRows(r rows, cfg *config.Config) {
	r.add("default_profile", "%s", cfg.DefaultProfile)
	for _, name := range cfg.ProfileNames() {
		p := cfg.Profiles[name]
		var parts []string
		part := func(label string, v []string) {
			if len(v) > 0 {
				parts = append(parts, label+" "+strings.Join(v, ", "))
			}
		}
		part("paths", p.Paths)
		part("hosts", p.Hosts)
		part("addrs", p.Addrs)
		if len(parts) == 0 {
			parts = append(parts, "no path, host or address")
		}
		part("block", p.Block)
		part("allow", p.Allow)
		part("deny", p.Deny)
		if p.SafeSearch {
			parts = append(parts, "safe_search")
		}
		if len(p.Block)+len(p.Deny) > 0 {
			answer := p.BlockedAnswer
			if len(answer) == 0 {
				answer = []string{"nxdomain"}
			}
			part("blocked_answer", answer)
		}
		if len(p.Block)+len(p.Allow)+len(p.Deny) == 0 && !p.SafeSearch {
			parts = append(parts, "filters nothing")
		}
		parts = append(parts, profileResolving(cfg, name)...)
		r.add("profiles."+name, "%s", strings.Join(parts, "; "))
	}
	for _, id := range slices.Sorted(maps.Keys(cfg.Clients)) {
		r.add("clients", "%s\tprofile %s", id, cfg.Clients[id].Profile)
	}
	r.add("unknown_clients", "%s", cfg.UnknownClients)
	r.add("metrics.client_ids", "%s", onOff(cfg.Metrics.ClientIDs))
}

func limitRows(r rows, cfg *config.Config) {
	bound := func(n int) string {
		if n == 0 {
			return "unbounded"
		}
		return fmt.Sprint(n)
	}
	l, _ := cfg.ConnLimits().NormalizeConns() // validated by config; fills the defaults
	if q, on := cfg.QueryLimits(); !on {
		r.add("rate_limit", "query rates off")
	} else {
		l, _ = q.Normalize()
		slip := "excess UDP queries dropped"
		if l.Slip > 0 {
			slip = fmt.Sprintf("1 in %d excess UDP queries answered TC=1, the rest dropped", l.Slip)
		}
		r.add("rate_limit", "%d qps, burst %d per client /%d (IPv4) or /%d (IPv6)", l.QPS, l.Burst, l.IPv4Prefix, l.IPv6Prefix)
		r.add("rate_limit", "slip %d: %s", l.Slip, slip)
	}
	r.add("rate_limit", "allow %s; deny %s", list(l.Allow), list(l.Deny))
	r.add("rate_limit", "connections: max_conns_per_prefix %s, max_conns %s (every transport together)", bound(l.MaxConns), bound(l.MaxConnsTotal))
	if cfg.XDP == nil {
		r.add("xdp", "off")
	} else {
		mode := cfg.XDP.Mode
		if mode == "" {
			mode = "auto"
		}
		r.add("xdp", "interfaces %s, mode %s", strings.Join(cfg.XDP.Interfaces, ", "), mode)
	}
	if len(cfg.Listen.DoQ) == 0 {
		r.add("doq", "unused (no listen.doq)")
		return
	}
	retry := fmt.Sprintf("while more than %d handshakes are in progress", cfg.DoQ.RetryThreshold())
	switch {
	case cfg.DoQ.AlwaysRetry:
		retry = "every new client"
	case cfg.DoQ.RetryThreshold() == 0:
		retry = "never"
	}
	r.add("doq", "0-RTT %s; Retry %s", onOff(cfg.DoQ.Allow0RTT), retry)
}

func list[T any](v []T) string {
	if len(v) == 0 {
		return "none"
	}
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
