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
	claimed := map[netip.Addr]string{} // a profile's address → the profile
	for _, name := range c.ProfileNames() {
		for _, a := range c.Profiles[name].Addrs {
			claimed[netip.MustParseAddr(a).Unmap()] = name // validated by config
		}
	}
	for _, name := range c.ShownProfiles() {
		pc := c.Profiles[name]
		p := onboarding.Profile{Name: name, Blocks: pc.Block, SafeSearch: pc.SafeSearch}
		reach := func(listeners []string, byAddrOnly bool) []netip.Addr {
			return reachingAddrs(listeners, claimed, name, byAddrOnly && name != c.DefaultProfile)
		}
		// listen.doh_plain is behind a proxy: its address is not the public one.
		p.DoHAddrs, p.DoTAddrs, p.PlainAddrs = reach(c.Listen.DoH, false), reach(c.Listen.DoT, false), reach(c.Listen.DNS, true)
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

// reachingAddrs are the addresses of listeners that serve profile: a
// listener bound to every address reaches it at the profile's own addresses
// (0.0.0.0: the IPv4 ones; "::", dual-stack, all);
// one bound to an address reaches it there unless that address is another
// profile's (which would select that one), or, with byAddrOnly (plain DNS,
// where only the address selects), unless the address is not profile's.
func reachingAddrs(listeners []string, claimed map[netip.Addr]string, profile string, byAddrOnly bool) []netip.Addr {
	var out []netip.Addr
	add := func(a netip.Addr) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, l := range listeners {
		ip := netip.MustParseAddrPort(l).Addr().Unmap() // validated by config
		if ip.IsUnspecified() {
			for a, owner := range claimed {
				if owner == profile && (a.Is4() || !ip.Is4()) {
					add(a)
				}
			}
			continue
		}
		if owner, ok := claimed[ip]; ok && owner != profile || !ok && byAddrOnly {
			continue
		}
		add(ip)
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// firstPort is the port of the first address in addrs, 0 for none.
func firstPort(addrs []string) uint16 {
	if len(addrs) == 0 {
		return 0
	}
	return netip.MustParseAddrPort(addrs[0]).Port() // validated by config
}
