// Package gateway assembles a running dnsward from its configuration: the
// upstreams, the lists and profiles, the resolver chain, certificates, limits
// and every front-end.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/dnsward/dnsward/certs"
	"github.com/dnsward/dnsward/doh"
	"github.com/dnsward/dnsward/doq"
	"github.com/dnsward/dnsward/dot"
	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/plain"
	"github.com/dnsward/dnsward/querylog"
	"github.com/dnsward/dnsward/querystats"
	"github.com/dnsward/dnsward/ratelimit"
	"github.com/dnsward/dnsward/resolver"
	"github.com/dnsward/dnsward/resolver/filter"
	"github.com/dnsward/dnsward/resolver/upstream"
	"github.com/dnsward/dnsward/xdp"
)

// Gateway is one configured dnsward instance.
type Gateway struct {
	cfg      *config.Config
	log      *slog.Logger
	registry *prometheus.Registry
	closers  []io.Closer // closed in reverse order by Shutdown

	upstream resolver.Upstream
	forward  map[string]*resolver.ForwardZones // by profile; see newForwardZones
	local    map[string]*resolver.LocalRecords // "" and each profile's; see newLocalRecords
	lists    *filter.Manager
	profiles *resolver.Profiles
	rmetrics *resolver.Metrics
	handler  *resolver.Chain
	certs    *certs.Manager     // nil without encrypted front-ends
	limiter  *ratelimit.Limiter // nil without rate_limit's query rates
	conns    *ratelimit.Conns   // connection admission, every transport
	pressure *pressureLog       // the summary of refusals under attack
	xdp      *xdp.Filter        // nil unless attached
	clients  clientWriter       // how every output writes a client (query_log.client)
	qlog     *querylog.Log      // nil without query_log sinks
	stats    *querystats.Stats  // nil without query_log

	plain   *plain.Server
	doh     *doh.Server
	dot     *dot.Server
	doq     *doq.Server
	metrics *metricsServer

	acmeHTTP *acmeHTTP // nil unless acme mode answers http-01
}

// New builds every component from cfg without binding any socket. On error
// whatever was built is released again.
func New(cfg *config.Config, log *slog.Logger) (_ *Gateway, err error) {
	g := &Gateway{cfg: cfg, log: log, registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			g.closeAll()
		}
	}()
	g.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rm := resolver.NewMetrics(g.registry)
	g.rmetrics = rm

	if g.upstream, err = g.newUpstreams(); err != nil {
		return nil, err
	}
	g.closers = append(g.closers, g.upstream)
	if g.forward, err = g.newForwardZones(); err != nil {
		return nil, err
	}
	if err = g.newLocalRecords(); err != nil {
		return nil, err
	}
	if err = g.newLimits(); err != nil {
		return nil, err
	}
	checks, local := localConfig(cfg)
	local.Records = g.local[""]
	rc := resolver.Config{
		// A plain-DNS UDP query that misses the cache waits on the upstreams
		// outside the workers that answer hits (plain.MissAware).
		Upstream:        plain.MissAware(g.upstream),
		UpstreamTimeout: cfg.UpstreamTimeout.Std(),
		Cache:           cacheConfig(cfg.Cache),
		Local:           local,
		Metrics:         rm,
		Registerer:      g.registry,
		Logger:          log,
	}
	if g.limiter != nil {
		rc.Admission = g.limiter
	}
	if err = g.newQueryLog(); err != nil {
		return nil, err
	}
	rc.QueryLog = g.queryLog()
	if g.handler, err = resolver.New(rc); err != nil {
		return nil, err
	}
	if g.lists, err = g.newFilter(g.handler.PolicyChanged); err != nil {
		return nil, err
	}
	g.closers = append(g.closers, g.lists)
	if g.profiles, err = g.newProfiles(g.lists); err != nil {
		return nil, err
	}
	if err = g.applyClients(cfg); err != nil {
		return nil, err
	}
	if g.encrypted() {
		if g.certs, err = g.newCerts(); err != nil {
			return nil, err
		}
		g.closers = append(g.closers, g.certs)
		if g.acmeHTTP, err = g.newACMEHTTP(); err != nil {
			return nil, err
		}
	}
	if err = g.newFrontends(rm, checks); err != nil {
		return nil, err
	}
	var limits *limitsSource
	if g.limiter != nil {
		limits = &limitsSource{limiter: g.limiter, xdp: g.xdp, gatherer: g.registry, clients: &g.clients}
	}
	g.pressure = newPressureLog(g.registry, limits, log, cfg.Log.PressureInterval.Std())
	g.closers = append(g.closers, g.pressure)
	if cfg.Listen.Metrics != "" {
		g.metrics = newMetricsServer(cfg.Listen.Metrics, g.registry, limits, g.debugStats(), log)
	}
	return g, nil
}

func (g *Gateway) newUpstreams() (*upstream.Group, error) { return g.newGroup(g.cfg.Upstreams) }

// newGroup builds an upstream group of urls: the default one or a forward
// zone's, with the same timeouts, bounds, failover and health.
func (g *Gateway) newGroup(urls []string) (*upstream.Group, error) {
	var ups []resolver.Upstream
	for _, raw := range urls {
		u, err := upstream.New(raw, upstream.Options{
			Timeout: g.cfg.UpstreamTryTimeout.Std(), MaxPending: g.cfg.UpstreamMaxPending, Logger: g.log, Metrics: g.registry,
		})
		if err != nil {
			for _, u := range ups {
				u.Close()
			}
			return nil, fmt.Errorf("gateway: %w", err)
		}
		ups = append(ups, u)
	}
	group, err := upstream.NewGroup(upstream.GroupConfig{Upstreams: ups, Logger: g.log, Metrics: g.registry})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return group, nil
}

// Start loads the lists, binds every listener, then starts certificate
// management — in that order: the first query is already filtered, and the
// live listeners answer ACME's TLS-ALPN-01 and HTTP-01 validations. On error
// the listeners already bound are closed.
func (g *Gateway) Start(ctx context.Context) error {
	if err := g.lists.Start(ctx); err != nil {
		// Lists that failed keep their last good copy or stay empty; serve anyway.
		g.log.Warn("gateway: some lists failed to load", "err", err)
	}
	starts := []func() error{}
	if g.plain != nil {
		starts = append(starts, g.plain.Start)
	}
	if g.doh != nil {
		starts = append(starts, func() error { return g.doh.Start(ctx) })
	}
	if g.dot != nil {
		starts = append(starts, func() error { return g.dot.Start(ctx) })
	}
	if g.doq != nil {
		starts = append(starts, func() error { return g.doq.Start(ctx) })
	}
	if g.acmeHTTP != nil {
		starts = append(starts, g.acmeHTTP.start)
	}
	if g.metrics != nil {
		starts = append(starts, g.metrics.start)
	}
	starts = append(starts, g.pressure.start)
	for _, start := range starts {
		if err := start(); err != nil {
			g.Shutdown(ctx)
			return err
		}
	}
	if g.certs != nil {
		if err := g.certs.Start(ctx); err != nil {
			g.Shutdown(ctx)
			return err
		}
	}
	if g.metrics != nil {
		g.metrics.setReady(true)
	}
	return nil
}

// Reload re-reads lists and certificate files and applies next's rate
// limits (in userspace, XDP and every transport's connection bound) and
// client IDs (clients, unknown_clients, metrics.client_ids) and local
// records (local_records, local_zone_files, local_ptr) without
// dropping connections (SIGHUP). next is the re-read configuration, or nil
// when it failed to load; other changed keys (listeners, profiles,
// upstreams, forward_zones, and adding or removing rate_limit) take effect
// on restart, the last said in the error. Each part keeps its last good
// state on error.
func (g *Gateway) Reload(next *config.Config) error {
	errs := []error{g.lists.Reload()}
	if g.certs != nil {
		errs = append(errs, g.certs.Reload())
	}
	if next == nil {
		return errors.Join(errs...)
	}
	if err := g.loadLocalRecords(next); err != nil {
		errs = append(errs, err)
	} else {
		g.handler.PolicyChanged() // replay must not repeat the old records
	}
	errs = append(errs, g.reloadQueryLog(next))
	errs = append(errs, g.applyClients(next))
	errs = append(errs, g.conns.Update(next.ConnLimits()))
	limits, on := next.QueryLimits()
	if on != (g.limiter != nil) {
		errs = append(errs, errors.New("gateway: rate_limit query rates (qps, burst) added or removed: that takes effect on restart"))
	}
	if on && g.limiter != nil {
		errs = append(errs, g.limiter.Update(limits))
		if g.xdp != nil {
			errs = append(errs, g.xdp.Update(limits))
		}
	}
	return errors.Join(errs...)
}

// CAFile is the self-signed CA's path, for clients to trust; "" otherwise.
func (g *Gateway) CAFile() string {
	if g.certs == nil {
		return ""
	}
	return g.certs.CAFile()
}

// Shutdown marks the gateway unready, drains in-flight queries on every
// front-end until ctx ends, then releases everything else.
func (g *Gateway) Shutdown(ctx context.Context) error {
	if g.metrics != nil {
		g.metrics.setReady(false)
	}
	var errs []error
	shutdowns := []interface{ Shutdown(context.Context) error }{}
	if g.plain != nil {
		shutdowns = append(shutdowns, g.plain)
	}
	if g.doh != nil {
		shutdowns = append(shutdowns, g.doh)
	}
	if g.dot != nil {
		shutdowns = append(shutdowns, g.dot)
	}
	if g.doq != nil {
		shutdowns = append(shutdowns, g.doq)
	}
	if g.acmeHTTP != nil {
		shutdowns = append(shutdowns, g.acmeHTTP)
	}
	// Every front-end drains at once, sharing the one deadline.
	results := make(chan error, len(shutdowns))
	for _, s := range shutdowns {
		go func() { results <- s.Shutdown(ctx) }()
	}
	for range shutdowns {
		errs = append(errs, <-results)
	}
	if g.metrics != nil {
		errs = append(errs, g.metrics.shutdown(ctx))
	}
	errs = append(errs, g.closeAll())
	return errors.Join(errs...)
}

func (g *Gateway) closeAll() error {
	var errs []error
	for i := len(g.closers) - 1; i >= 0; i-- {
		errs = append(errs, g.closers[i].Close())
	}
	g.closers = nil
	return errors.Join(errs...)
}

// Listener describes one bound front-end, for the start-up banner.
type Listener struct {
	Transport string // "dns (udp+tcp)", "doh (h1/h2/h3)", …
	Addr      string
	Try       string // a ready-to-paste command that exercises it
}

// Listeners describes what Start bound.
func (g *Gateway) Listeners() []Listener {
	var out []Listener
	cacert := ""
	if ca := g.CAFile(); ca != "" {
		cacert = " -cacert " + ca
	}
	host := func(a string) string { // the certificate's name, on the bound port
		_, port, _ := net.SplitHostPort(a)
		return net.JoinHostPort(g.cfg.ServerName, port)
	}
	if g.plain != nil {
		for _, ap := range g.plain.UDPAddrs() {
			out = append(out, Listener{"dns (udp+tcp)", ap.String(), fmt.Sprintf("dnsward query example.org A @udp://%s", ap)})
		}
	}
	if g.doh != nil {
		for _, ap := range g.doh.TLSAddrs() {
			out = append(out, Listener{"doh (h1/h2/h3)", ap.String(), fmt.Sprintf("dnsward query example.org A @https://%s/dns-query%s", host(ap.String()), cacert)})
		}
		for _, ap := range g.doh.PlainAddrs() {
			out = append(out, Listener{"doh (cleartext)", ap.String(), fmt.Sprintf("curl 'http://%s/resolve?name=example.org&type=A'", ap)})
		}
	}
	if g.dot != nil {
		for _, a := range g.dot.Addrs() {
			out = append(out, Listener{"dot", a.String(), fmt.Sprintf("dnsward query example.org A @tls://%s%s", host(a.String()), cacert)})
		}
	}
	if g.doq != nil {
		for _, a := range g.doq.Addrs() {
			out = append(out, Listener{"doq", a.String(), fmt.Sprintf("dnsward query example.org A @quic://%s%s", host(a.String()), cacert)})
		}
	}
	if g.acmeHTTP != nil {
		for _, a := range g.acmeHTTP.addrs {
			out = append(out, Listener{"acme http-01", a, fmt.Sprintf("curl -i http://%s/ (redirects to https)", a)})
		}
	}
	if g.metrics != nil {
		out = append(out, Listener{"metrics", g.metrics.addr(), fmt.Sprintf("curl http://%s/metrics", g.metrics.addr())})
	}
	return out
}

// cacheConfig maps the cache section; size 0 turns the cache off.
func cacheConfig(c config.Cache) *resolver.CacheConfig {
	if c.Size == 0 {
		return nil
	}
	return &resolver.CacheConfig{
		Size: c.Size, MinTTL: c.MinTTL.Std(), MaxTTL: c.MaxTTL.Std(), ServeStale: c.ServeStale.Std(),
	}
}
