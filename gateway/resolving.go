package gateway

import (
	"errors"
	"fmt"
	"slices"

	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/plain"
	"github.com/dnsward/dnsward/resolver"
)

// newForwardZones builds one upstream group per forward zone and returns
// each profile's table: the top level's zones, then its own (which win for
// the same zone). Profiles without any get none.
func (g *Gateway) newForwardZones() (map[string]*resolver.ForwardZones, error) {
	return forwardTables(g.cfg, func(urls []string) (resolver.Upstream, error) {
		group, err := g.newGroup(urls)
		if err != nil {
			return nil, err
		}
		g.closers = append(g.closers, group)
		// A plain-UDP miss leaves the hit workers whichever group it waits on.
		return plain.MissAware(group), nil
	})
}

// forwardTables builds each profile's forward zones, with newGroup making
// each zone's upstream group.
func forwardTables(cfg *config.Config, newGroup func(urls []string) (resolver.Upstream, error)) (map[string]*resolver.ForwardZones, error) {
	routes := func(profile string) ([]*resolver.Route, error) {
		var out []*resolver.Route
		for _, zone := range cfg.ForwardZoneNames(profile) {
			up, err := newGroup(cfg.ForwardZone(profile, zone))
			if err != nil {
				return nil, err
			}
			r, err := resolver.NewRoute(zone, up)
			if err != nil {
				return nil, fmt.Errorf("gateway: %w", err)
			}
			out = append(out, r)
		}
		return out, nil
	}
	global, err := routes("")
	if err != nil {
		return nil, err
	}
	tables := map[string]*resolver.ForwardZones{}
	for _, name := range cfg.ProfileNames() {
		own, err := routes(name)
		if err != nil {
			return nil, err
		}
		if len(global)+len(own) > 0 {
			tables[name] = resolver.NewForwardZones(slices.Concat(global, own)...)
		}
	}
	return tables, nil
}

// newLocalRecords makes the holders of the top level's local data ("") and
// of each profile's, and loads them from cfg.
func (g *Gateway) newLocalRecords() error {
	g.local = map[string]*resolver.LocalRecords{"": {}}
	for _, name := range g.cfg.ProfileNames() {
		g.local[name] = &resolver.LocalRecords{}
	}
	return g.loadLocalRecords(g.cfg)
}

// loadLocalRecords reads the local records and zone files next names for
// the top level and every running profile, and swaps them in only if all
// of them load: on error every scope keeps its last good data.
func (g *Gateway) loadLocalRecords(next *config.Config) error {
	data := map[string]*resolver.LocalData{}
	var errs []error
	for scope := range g.local {
		if _, ok := next.Profiles[scope]; scope != "" && !ok {
			continue // a profile removed: it keeps serving until restart
		}
		d, err := next.LocalData(scope)
		errs = append(errs, err)
		data[scope] = d
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gateway: local records kept: %w", err)
	}
	for scope, d := range data {
		g.local[scope].Store(d)
	}
	return nil
}
