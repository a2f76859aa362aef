package gateway

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/resolver"
	"github.com/dnsward/dnsward/resolver/filter"
)

// newFilter builds the list manager: one compiled set per category, shared
// by every profile that blocks it.
func (g *Gateway) newFilter(onSwap func()) (*filter.Manager, error) {
	lists := map[string][]filter.Source{}
	for _, cat := range g.cfg.ListNames() {
		lists[cat] = []filter.Source{}
		for _, loc := range g.cfg.Lists[cat] {
			location, format, _ := config.ListSource(loc) // validated by config
			lists[cat] = append(lists[cat], filter.Source{Location: location, Format: format})
		}
	}
	intel, err := ThreatIntel(g.cfg)
	if err != nil {
		return nil, err
	}
	m, err := filter.NewManager(filter.ManagerConfig{
		Lists:           lists,
		BaseDir:         g.cfg.BaseDir(),
		DataDir:         g.cfg.ListDataDir(),
		RefreshInterval: g.cfg.ListRefresh.Std(),
		OnSwap:          onSwap,
		ThreatIntel:     intel,
		Logger:          g.log,
		Metrics:         g.registry,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return m, nil
}

// newProfiles turns the configured profiles into the registry every
// transport asks.
func (g *Gateway) newProfiles(lists *filter.Manager) (*resolver.Profiles, error) {
	var all []*resolver.Profile
	for _, name := range g.cfg.ProfileNames() {
		pc := g.cfg.Profiles[name]
		p := &resolver.Profile{
			Name: name, Paths: pc.Paths, Hosts: pc.Hosts, BlockedTTL: uint32(pc.BlockedTTL.Std() / time.Second),
			Forward: g.forward[name], Local: g.local[name],
		}
		for _, a := range pc.Addrs {
			p.Addrs = append(p.Addrs, netip.MustParseAddr(a)) // validated by config
		}
		if len(pc.Block)+len(pc.Allow)+len(pc.Deny) > 0 || pc.SafeSearch {
			pol, err := lists.Policy(filter.PolicyConfig{
				Block: pc.Block, Allow: pc.Allow, Deny: pc.Deny, SafeSearch: pc.SafeSearch,
				BlockedAnswer: blockedAnswer(pc.BlockedAnswer),
			})
			if err != nil {
				return nil, fmt.Errorf("gateway: profile %q: %w", name, err)
			}
			p.Policy = pol
		}
		all = append(all, p)
	}
	return resolver.NewProfiles(g.cfg.DefaultProfile, all)
}

// applyClients makes cfg's client IDs (clients, unknown_clients) the ones
// every transport identifies clients by, and metrics.client_ids whether
// they are counted; on error (a client of a profile added since start) the
// previous ones stay.
func (g *Gateway) applyClients(cfg *config.Config) error {
	if err := g.profiles.SetClients(cfg.ClientsConfig()); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.rmetrics.CountClientIDs(cfg.Metrics.ClientIDs)
	return nil
}

// blockedAnswer maps the validated blocked_answer value.
func blockedAnswer(v []string) resolver.BlockedAnswer {
	if len(v) == 0 {
		return resolver.BlockedAnswer{Kind: resolver.BlockNXDomain}
	}
	switch v[0] {
	case "nxdomain":
		return resolver.BlockedAnswer{Kind: resolver.BlockNXDomain}
	case "null_ip":
		return resolver.BlockedAnswer{Kind: resolver.BlockNullIP}
	case "nodata":
		return resolver.BlockedAnswer{Kind: resolver.BlockNoData}
	case "refused":
		return resolver.BlockedAnswer{Kind: resolver.BlockRefused}
	}
	a := resolver.BlockedAnswer{Kind: resolver.BlockCustomIP}
	for _, s := range v {
		a.Addrs = append(a.Addrs, netip.MustParseAddr(s))
	}
	return a
}

// profileHosts lists every profile host, for the certificate's names.
func profileHosts(cfg *config.Config) []string {
	var hosts []string
	for _, name := range cfg.ProfileNames() {
		hosts = append(hosts, cfg.Profiles[name].Hosts...)
	}
	return hosts
}
