package gateway

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/dnsward/dnsward/certs"
	"github.com/dnsward/dnsward/doh"
	"github.com/dnsward/dnsward/doq"
	"github.com/dnsward/dnsward/dot"
	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/onboarding"
	"github.com/dnsward/dnsward/plain"
	"github.com/dnsward/dnsward/resolver"
)

// encrypted reports whether any front-end needs certificates.
func (g *Gateway) encrypted() bool {
	l := g.cfg.Listen
	return len(l.DoH)+len(l.DoT)+len(l.DoQ) > 0
}

func (g *Gateway) newCerts() (*certs.Manager, error) {
	c := g.cfg
	m, err := certs.New(certs.Config{
		Mode:          certs.Mode(c.TLS.Mode),
		ServerName:    c.ServerName,
		Hosts:         profileHosts(c),
		DataDir:       c.DataDir,
		CertFile:      c.Path(c.TLS.CertFile),
		KeyFile:       c.Path(c.TLS.KeyFile),
		CheckInterval: c.TLS.CheckInterval.Std(),
		ACME:          c.ACMEConfig(),
		Logger:        g.log,
		Metrics:       g.registry,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return m, nil
}

// newFrontends builds every configured transport around the one handler.
// checks is the "am I protected?" store (nil without onboarding.check_domain).
func (g *Gateway) newFrontends(rm *resolver.Metrics, checks *onboarding.Checks) error {
	c := g.cfg
	var err error
	trusted := make([]netip.Prefix, len(c.TrustedProxies))
	for i, p := range c.TrustedProxies {
		trusted[i] = netip.MustParsePrefix(p) // validated by config
	}
	if len(c.Listen.DNS) > 0 {
		g.plain, err = plain.New(plain.Config{
			Addrs: c.Listen.DNS, Handler: g.handler, Profiles: g.profiles, Metrics: rm, Logger: g.log,
			Registry: g.registry, UDPBuffer: c.Listen.UDPBuffer, UDPMaxPending: c.Listen.UDPMaxPending,
			UDPReaders: c.Listen.UDPReaders, Conns: g.conns,
			Limiter: g.limiter, LimitUDP: g.limiter != nil && g.xdp == nil,
			ProxyProtocol: c.ProxyProtocol, TrustedProxies: trusted,
		})
		if err != nil {
			return err
		}
	}
	if len(c.Listen.DoH)+len(c.Listen.DoHPlain) > 0 {
		cfg := doh.Config{
			Addrs: c.Listen.DoH, PlainAddrs: c.Listen.DoHPlain,
			Handler: g.handler, Profiles: g.profiles, TrustedProxies: trusted, ProxyProtocol: c.ProxyProtocol,
			Conns: g.conns, HTTP2: c.DoH.HTTP2, HTTP3: c.DoH.HTTP3, Logger: g.log, Metrics: g.registry,
		}
		if c.OnboardingOn() {
			pages, err := g.newOnboarding(checks)
			if err != nil {
				return err
			}
			cfg.Pages = pages
		}
		if g.certs != nil {
			cfg.TLS = g.certs.TLSConfig(certs.ALPNHTTP2, certs.ALPNHTTP11)
			cfg.TLS3 = g.certs.TLSConfig(certs.ALPNHTTP3)
		}
		if g.doh, err = doh.New(cfg); err != nil {
			return err
		}
	}
	if len(c.Listen.DoT) > 0 {
		g.dot, err = dot.New(dot.Config{
			Addrs: c.Listen.DoT, TLS: g.certs.TLSConfig(certs.ALPNDoT), Conns: g.conns,
			ProxyProtocol: c.ProxyProtocol, TrustedProxies: trusted,
			Handler: g.handler, Profiles: g.profiles, Logger: g.log, Metrics: g.registry,
		})
		if err != nil {
			return err
		}
	}
	if len(c.Listen.DoQ) > 0 {
		resetKey, err := quicResetKey(c.DataDir)
		if err != nil {
			return err
		}
		g.doq, err = doq.New(doq.Config{
			Addrs: c.Listen.DoQ, TLS: g.certs.TLSConfig(certs.ALPNDoQ), Conns: g.conns,
			Handler: g.handler, Profiles: g.profiles, Logger: g.log, Metrics: g.registry,
			Allow0RTT: c.DoQ.Allow0RTT, AlwaysRetry: c.DoQ.AlwaysRetry, RetryAbove: c.DoQ.RetryThreshold(),
			StatelessResetKey: resetKey,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ddrEndpoints describes, per profile, the encrypted endpoints for
// _dns.resolver.arpa (RFC 9461/9462), most preferred first: DoH, DoQ, DoT.
// Each endpoint must select the same profile the client already has, or
// discovery would move it off its filter: DoH by the profile's first path
// (or, without one, its host with the generic path), DoT and DoQ by its
// first host as the TLS name. The default profile is also reached through
// server_name, unless it is a wildcard (*.dns.example), which names no host
// to connect to. A profile reached only by local address gets no endpoints.
func ddrEndpoints(c *config.Config) map[string][]resolver.DDREndpoint {
	out := map[string][]resolver.DDREndpoint{}
	serverName := c.ServerName
	if strings.HasPrefix(serverName, "*.") {
		serverName = ""
	}
	for _, name := range c.ProfileNames() {
		p := c.Profiles[name]
		host := ""
		if len(p.Hosts) > 0 {
			host = p.Hosts[0]
		} else if name == c.DefaultProfile {
			host = serverName
		}
		dohTarget, dohPath := host, "/dns-query"
		if len(p.Paths) > 0 {
			dohPath = p.Paths[0]
			if dohTarget == "" {
				dohTarget = serverName
			}
		}
		var eps []resolver.DDREndpoint
		add := func(addrs, alpn []string, target, dohPath string) {
			if target == "" {
				return
			}
			for _, a := range addrs {
				ap := netip.MustParseAddrPort(a) // validated by config
				ep := resolver.DDREndpoint{
					Priority: uint16(len(eps) + 1), Target: target, ALPN: alpn, Port: ap.Port(), DoHPath: dohPath,
				}
				if !ap.Addr().IsUnspecified() {
					ep.Hints = []netip.Addr{ap.Addr()}
				}
				eps = append(eps, ep)
			}
		}
		add(c.Listen.DoH, []string{"h2", "h3"}, dohTarget, dohPath+"{?dns}")
		add(c.Listen.DoQ, []string{"doq"}, host, "")
		add(c.Listen.DoT, []string{"dot"}, host, "")
		out[name] = eps
	}
	return out
}
