package gateway

import (
	"crypto/tls"
	"net/netip"
	"slices"
	"strings"

	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/onboarding"
	"github.com/dnsward/dnsward/resolver"
)

// localConfig is the resolver's local step (DDR, the check zone) and the
// store of the "am I protected?" check, nil without onboarding.check_domain.
func localConfig(c *config.Config) (*onboarding.Checks, resolver.LocalConfig) {
	local := resolver.LocalConfig{DDR: ddrEndpoints(c)}
	if !c.OnboardingOn() || c.Onboarding.CheckDomain == "" {
		return nil, local
	}
	checks := onboarding.NewChecks(0, 0)
	local.CheckZone, local.Check = c.Onboarding.CheckDomain, checks
	return checks, local
}

// newOnboarding builds the setup page from the configuration: every shown
// profile with the DoH URL and TLS name that select it (the same choice
// DDR advertises, see ddrEndpoints), its addresses and what it blocks.
func (g *Gateway) newOnboarding(checks *onboarding.Checks) (*onboarding.Server, error) {
	c := g.cfg
	o := c.Onboarding
	serverName := c.ServerName
	if strings.HasPrefix(serverName, "*.") {
		serverName = ""
	}
	cfg := onboarding.Config{
		ServiceName: o.ServiceName, Contact: o.Contact, PrivacyURL: o.PrivacyURL,
		DoTPort: firstPort(c.Listen.DoT), DNSPort: firstPort(c.Listen.DNS),
		CheckDomain: o.CheckDomain, Checks: checks, Logger: g.log,
	}
	for _, l := range [][]string{c.Listen.DoH, c.Listen.DoT} {
		for _, a := range l {
			if ap := netip.MustParseAddrPort(a); !ap.Addr().IsUnspecified() && !slices.Contains(cfg.ServerAddrs, ap.Addr()) { // validated by config
				cfg.ServerAddrs = append(cfg.ServerAddrs, ap.Addr())
			}
		}
	}
	for _, name := range c.ShownProfiles() {
		pc := c.Profiles[name]
		p := onboarding.Profile{Name: name, Blocks: pc.Block, SafeSearch: pc.SafeSearch}
		for _, a := range pc.Addrs {
			p.Addrs = append(p.Addrs, netip.MustParseAddr(a)) // validated by config
		}
		host := ""
		if len(pc.Hosts) > 0 {
			host = pc.Hosts[0]
		} else if name == c.DefaultProfile {
			host = serverName
		}
		p.DoTHost = host
		if len(c.Listen.DoH)+len(c.Listen.DoHPlain) > 0 {
			p.DoHHost, p.DoHPath = host, "/dns-query"
			if len(pc.Paths) > 0 {
				p.DoHPath = pc.Paths[0]
				if p.DoHHost == "" {
					p.DoHHost = serverName
				}
			}
		}
		cfg.Profiles = append(cfg.Profiles, p)
	}
	if o.SignProfiles && g.certs != nil {
		tc := g.certs.TLSConfig()
		name := strings.TrimPrefix(c.ServerName, "*.")
		cfg.Sign = func() (*tls.Certificate, error) {
			return tc.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
		}
	}
	return onboarding.New(cfg)
}

// firstPort is the port of the first address in addrs, 0 for none.
func firstPort(addrs []string) uint16 {
	if len(addrs) == 0 {
		return 0
	}
	return netip.MustParseAddrPort(addrs[0]).Port() // validated by config
}
