package filter

import (
	"fmt"
	"strings"

	"github.com/dnsward/dnsward/resolver"
	"github.com/miekg/dns"
)

// PolicyConfig is what one profile blocks.
type PolicyConfig struct {
	Block         []string // categories to block (each must be in ManagerConfig.Lists)
	Allow         []string // names (and subtrees; "*.x" for the subtree only) never blocked
	Deny          []string // names blocked with EDE 17, category "deny"
	SafeSearch    bool     // rewrite search engines to their safe-search hosts
	BlockedAnswer resolver.BlockedAnswer
}

// DenyCategory is the Verdict category of a profile's own deny entries.
const DenyCategory = "deny"

type policy struct {
	cats        []*category
	allow, deny *Set
	safeSearch  bool
	answer      resolver.BlockedAnswer
}

// Policy returns the resolver.Policy for one profile. It reads the shared
// category sets, so list reloads reach it without a new Policy.
func (m *Manager) Policy(cfg PolicyConfig) (resolver.Policy, error) {
	p := &policy{safeSearch: cfg.SafeSearch, answer: cfg.BlockedAnswer}
	for _, name := range cfg.Block {
		c, ok := m.cats[name]
		if !ok {
			return nil, fmt.Errorf("filter: profile blocks category %q, which has no lists entry", name)
		}
		p.cats = append(p.cats, c)
	}
	var err error
	if p.allow, err = nameSet(cfg.Allow); err != nil {
		return nil, fmt.Errorf("filter: allow: %w", err)
	}
	if p.deny, err = nameSet(cfg.Deny); err != nil {
		return nil, fmt.Errorf("filter: deny: %w", err)
	}
	switch a := cfg.BlockedAnswer; {
	case a.Kind > resolver.BlockRecords:
		return nil, fmt.Errorf("filter: unknown blocked answer kind %d", a.Kind)
	case a.Kind == resolver.BlockCustomIP && len(a.Addrs) == 0:
		return nil, fmt.Errorf("filter: custom blocked answer without addresses")
	}
	return p, nil
}

func nameSet(names []string) (*Set, error) {
	var b Builder
	for _, n := range names {
		name, wild, err := NormalizeName(n)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", n, err)
		}
		b.Add(name, wildScope(wild, ScopeSubtree))
	}
	return b.Build(), nil
}

// Check implements resolver.Policy. Order: allow entries, deny entries,
// categories in the profile's order (within a category: $important, then
// exceptions, then blocks), then safe search.
func (p *policy) Check(name string, _ uint16) resolver.Verdict {
	if p.allow.Contains(name) {
		return resolver.Verdict{Action: resolver.ActionAllow}
	}
	if p.deny.Contains(name) {
		return p.blocked(DenyCategory, resolver.EDEFiltered, p.answer)
	}
	for _, c := range p.cats {
		cur := c.cur.Load()
		act, rrs, ok := cur.check(name)
		if !ok || act == ActAllow {
			continue
		}
		ede := uint16(resolver.EDEFiltered)
		if c.operator {
			ede = resolver.EDEBlocked
		}
		answer := p.answer
		switch act {
		case ActNXDomain:
			answer = resolver.BlockedAnswer{Kind: resolver.BlockNXDomain}
		case ActNoData:
			answer = resolver.BlockedAnswer{Kind: resolver.BlockNoData}
		case ActLocalData:
			answer = resolver.BlockedAnswer{Kind: resolver.BlockRecords, Records: rrs}
		}
		v := p.blocked(c.name, ede, answer)
		if act == ActBlock && cur.intel != nil {
			v.Detail = intelDetail(cur.intel, name)
		}
		return v
	}
	if p.safeSearch {
		if t := SafeSearchTarget(strings.ToLower(name)); t != "" {
			return resolver.Verdict{Action: resolver.ActionRewrite, Target: dns.Fqdn(t)}
		}
	}
	return resolver.Verdict{}
}

func (p *policy) blocked(category string, ede uint16, answer resolver.BlockedAnswer) resolver.Verdict {
	return resolver.Verdict{Action: resolver.ActionBlock, Category: category, Answer: answer, EDE: ede}
}
