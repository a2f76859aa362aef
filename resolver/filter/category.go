package filter

import (
	"strings"

	"github.com/miekg/dns"
)

// compiled is one category's lists, compiled; immutable once built.
type compiled struct {
	block, important, allow, nxdomain, nodata *Set
	local                                     map[string][]dns.RR // "name" or "*.name" → records
	entries, bytes                            int
	intel                                     *intelIndex // which MISP attribute blocks a name; nil without MISP sources
}

// check returns the action of the entry matching name (ranked as the Action
// constants document) and the records for ActLocalData; ok is false when no
// entry matches.
func (c *compiled) check(name string) (act Action, rrs []dns.RR, ok bool) {
	switch {
	case c == nil:
		return 0, nil, false
	case c.important.Contains(name):
		return ActImportant, nil, true
	case c.allow.Contains(name):
		return ActAllow, nil, true
	}
	if rrs := c.localData(name); rrs != nil {
		return ActLocalData, rrs, true
	}
	switch {
	case c.nxdomain.Contains(name):
		return ActNXDomain, nil, true
	case c.nodata.Contains(name):
		return ActNoData, nil, true
	case c.block.Contains(name):
		return ActBlock, nil, true
	}
	return 0, nil, false
}

// localData finds records for name: its own, else the nearest wildcard.
func (c *compiled) localData(name string) []dns.RR {
	if len(c.local) == 0 {
		return nil
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if rrs, ok := c.local[name]; ok {
		return rrs
	}
	for i := strings.IndexByte(name, '.'); i >= 0; i = strings.IndexByte(name, '.') {
		name = name[i+1:]
		if rrs, ok := c.local["*."+name]; ok {
			return rrs
		}
	}
	return nil
}

// categoryBuilder sorts entries by action into builders.
type categoryBuilder struct {
	block, important, allow, nxdomain, nodata Builder
	local                                     map[string][]dns.RR
}

func (cb *categoryBuilder) add(e Entry) {
	switch e.Action {
	case ActImportant:
		cb.important.Add(e.Name, e.Scope)
	case ActAllow:
		cb.allow.Add(e.Name, e.Scope)
	case ActNXDomain:
		cb.nxdomain.Add(e.Name, e.Scope)
	case ActNoData:
		cb.nodata.Add(e.Name, e.Scope)
	case ActLocalData:
		if cb.local == nil {
			cb.local = map[string][]dns.RR{}
		}
		key := "*." + e.Name // a copy: e.Name is the parser's
		if e.Scope != ScopeBelow {
			key = key[2:]
		}
		cb.local[key] = append(cb.local[key], e.RR)
	default:
		cb.block.Add(e.Name, e.Scope)
	}
}

func (cb *categoryBuilder) build() *compiled {
	c := &compiled{
		block: cb.block.Build(), important: cb.important.Build(), allow: cb.allow.Build(),
		nxdomain: cb.nxdomain.Build(), nodata: cb.nodata.Build(), local: cb.local,
	}
	for _, s := range []*Set{c.block, c.important, c.allow, c.nxdomain, c.nodata} {
		c.entries += s.Len()
		c.bytes += s.Bytes()
	}
	c.entries += len(c.local)
	return c
}
