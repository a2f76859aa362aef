// Package gateway assembles a running dnsward from its configuration: the
// upstreams, the resolver chain, the profiles and every front-end.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/plain"
	"github.com/dnsward/dnsward/resolver"
	"github.com/dnsward/dnsward/resolver/upstream"
)

// Listener describes one bound front-end, for the start-up banner.
type Listener struct {
	Transport string // "udp+tcp", "metrics", …
	Addr      string
	Try       string // a ready-to-paste command that exercises it
}

// Gateway is one configured dnsward instance.
type Gateway struct {
	cfg      *config.Config
	log      *slog.Logger
	registry *prometheus.Registry
	upstream resolver.Upstream
	handler  resolver.Handler
	profiles *resolver.Profiles
	plain    *plain.Server
	metrics  *metricsServer
}

// New builds every component from cfg without binding any socket.
func New(cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	g := &Gateway{cfg: cfg, log: log, registry: prometheus.NewRegistry()}
	g.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rm := resolver.NewMetrics(g.registry)

	group, err := g.newUpstreams()
	if err != nil {
		return nil, err
	}
	g.upstream = group
	g.handler, err = resolver.New(resolver.Config{
		Upstream:        group,
		UpstreamTimeout: time.Duration(cfg.UpstreamTimeout),
		Cache: &resolver.CacheConfig{
			Size:       cfg.Cache.Size,
			MinTTL:     time.Duration(cfg.Cache.MinTTL),
			MaxTTL:     time.Duration(cfg.Cache.MaxTTL),
			ServeStale: time.Duration(cfg.Cache.ServeStale),
		},
		Metrics: rm,
		Logger:  log,
	})
	if err != nil {
		group.Close()
		return nil, err
	}
	g.profiles, err = resolver.NewProfiles("default", []*resolver.Profile{{Name: "default"}})
	if err != nil {
		group.Close()
		return nil, err
	}
	if len(cfg.Listen.DNS) > 0 {
		g.plain, err = plain.New(plain.Config{
			Addrs: cfg.Listen.DNS, Handler: g.handler, Profiles: g.profiles, Metrics: rm, Logger: log,
		})
		if err != nil {
			group.Close()
			return nil, err
		}
	}
	if cfg.Listen.Metrics != "" {
		g.metrics = newMetricsServer(cfg.Listen.Metrics, g.registry)
	}
	return g, nil
}

func (g *Gateway) newUpstreams() (*upstream.Group, error) {
	var ups []resolver.Upstream
	for _, raw := range g.cfg.Upstreams {
		u, err := upstream.New(raw, upstream.Options{Logger: g.log, Metrics: g.registry})
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

// Start binds every listener. On error, the ones already bound are closed.
func (g *Gateway) Start(ctx context.Context) error {
	if g.plain != nil {
		if err := g.plain.Start(); err != nil {
			return err
		}
	}
	if g.metrics != nil {
		if err := g.metrics.start(); err != nil {
			g.Shutdown(ctx)
			return err
		}
		g.metrics.setReady(true)
	}
	return nil
}

// Listeners describes what Start bound.
func (g *Gateway) Listeners() []Listener {
	var out []Listener
	if g.plain != nil {
		for _, ap := range g.plain.UDPAddrs() {
			out = append(out, Listener{Transport: "dns (udp+tcp)", Addr: ap.String(),
				Try: fmt.Sprintf("dnsward query example.org A @udp://%s", ap)})
		}
	}
	if g.metrics != nil {
		out = append(out, Listener{Transport: "metrics", Addr: g.metrics.addr(),
			Try: fmt.Sprintf("curl http://%s/metrics", g.metrics.addr())})
	}
	return out
}

// Shutdown marks the gateway unready, drains in-flight queries on every
// front-end until ctx ends, then closes the upstreams.
func (g *Gateway) Shutdown(ctx context.Context) error {
	var errs []error
	if g.metrics != nil {
		g.metrics.setReady(false)
	}
	if g.plain != nil {
		errs = append(errs, g.plain.Shutdown(ctx))
	}
	if g.metrics != nil {
		errs = append(errs, g.metrics.shutdown(ctx))
	}
	errs = append(errs, g.upstream.Close())
	return errors.Join(errs...)
}
