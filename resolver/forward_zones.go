package resolver

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Route is one forward zone (conditional forwarding, split DNS): the names at
// and below Zone are resolved by Upstream, a group of their own, instead of
// Config.Upstream.
type Route struct {
	Zone     string   // lower-case, fully qualified
	Upstream Upstream // usually an upstream.Group: failover and health as the default group's
	id       uint64   // names the route in cache and coalescing keys; 0 is the default group
}

// routeIDs numbers routes for cache keys.
var routeIDs atomic.Uint64

// NewRoute validates zone and returns its route to up. The root zone is not
// a forward zone: it is what Config.Upstream is for.
func NewRoute(zone string, up Upstream) (*Route, error) {
	name := lowerName(dns.Fqdn(zone))
	if _, ok := dns.IsDomainName(name); !ok || name == "." {
		return nil, fmt.Errorf("forward zone %q: not a domain name below the root", zone)
	}
	if up == nil {
		return nil, fmt.Errorf("forward zone %q: no upstream", zone)
	}
	return &Route{Zone: name, Upstream: up, id: routeIDs.Add(1)}, nil
}

// ForwardZones picks the route of a query name by the longest matching zone.
// It is immutable once built and may be shared by several profiles.
type ForwardZones struct {
	zones map[string]*Route
}

// NewForwardZones indexes routes by zone. A zone given twice takes the
// later route, so that a profile's own zones, listed after the global ones,
// override them.
func NewForwardZones(routes ...*Route) *ForwardZones {
	f := &ForwardZones{zones: make(map[string]*Route, len(routes))}
	for _, r := range routes {
		f.zones[r.Zone] = r
	}
	return f
}

// Match returns the route of the longest zone that name (lower-case, fully
// qualified) equals or lies below, or nil: the default group.
func (f *ForwardZones) Match(name string) *Route {
	if f == nil || len(f.zones) == 0 {
		return nil
	}
	for {
		if r, ok := f.zones[name]; ok {
			return r
		}
		i := strings.IndexByte(name, '.')
		if i < 0 || i == len(name)-1 {
			return nil
		}
		name = name[i+1:]
	}
}

// route returns the forward zone req's question falls in, or nil.
func (r *Request) route() *Route {
	if r.Profile == nil || r.Profile.Forward == nil {
		return nil
	}
	return r.Profile.Forward.Match(lowerName(r.Msg.Question[0].Name))
}
