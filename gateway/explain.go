package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/resolver"
	"github.com/dnsward/dnsward/resolver/filter"
)

// Step is one line of an explanation: the chain's step and what it does
// with the name.
type Step struct{ Step, What string }

// Explain says how a gateway running cfg would answer name in a profile
// ("": the default profile) for a client ID ("": none), step by step in the resolver chain's order:
// the profile, local records, policy (the allow or deny entry, or the list
// category and the list lines that match) and forwarding (the forward
// zone and its upstreams). It reads local lists and the copies of remote
// ones kept in data_dir, and opens no connection.
func Explain(cfg *config.Config, name, profile, client string) ([]Step, error) {
	g := &Gateway{cfg: cfg, log: slog.New(slog.DiscardHandler), registry: prometheus.NewRegistry()}
	fqdn := strings.ToLower(dns.Fqdn(name))
	if _, ok := dns.IsDomainName(fqdn); !ok {
		return nil, fmt.Errorf("explain: %q is not a domain name", name)
	}
	how := "the default profile"
	if profile == "" {
		profile = cfg.DefaultProfile
	} else if _, ok := cfg.Profiles[profile]; !ok {
		return nil, fmt.Errorf("explain: profile %q is not defined (defined: %s)", profile, strings.Join(cfg.ProfileNames(), ", "))
	} else {
		how = "chosen with --profile"
	}
	if client != "" {
		id, err := resolver.ParseClientID(client)
		if err != nil {
			return nil, fmt.Errorf("explain: --client: %w", err)
		}
		switch c, listed := cfg.Clients[id]; {
		case listed: // a listed ID's profile wins over the path's or name's (resolver.Profiles.Identify)
			profile, how = c.Profile, "client ID "+id+" is listed under clients"
		case cfg.UnknownClients == config.UnknownClientsRefuse:
			return []Step{{"client", id + " is not under clients and unknown_clients is refuse: DoH answers 403, DoT and DoQ refuse the handshake"}}, nil
		default:
			how += "; client ID " + id + " is not under clients, so the path's, name's or address's profile applies"
		}
	}
	var err error
	g.forward, err = forwardTables(cfg, func(urls []string) (resolver.Upstream, error) { return urlList(urls), nil })
	if err != nil {
		return nil, err
	}
	if err := g.newLocalRecords(); err != nil {
		return nil, err
	}
	lists, err := g.newFilter(nil)
	if err != nil {
		return nil, err
	}
	defer lists.Close()
	steps := []Step{{"profile", profile + " (" + how + ")"}}
	if err := lists.Reload(); err != nil {
		steps = append(steps, Step{"lists", "not all loaded, so policy is judged without them: " + err.Error()})
	}
	profiles, err := g.newProfiles(lists)
	if err != nil {
		return nil, err
	}
	p, _ := profiles.ByName(profile)
	if local, ok := resolver.ExplainLocal(fqdn, p.Local, g.local[""]); ok {
		return append(steps, Step{"local", local + "; answered here, above policy: no list blocks it"}), nil
	}
	steps = append(steps, Step{"local", "no local record"})
	policy, blocked := explainPolicy(cfg.Profiles[profile], p, lists, fqdn)
	steps = append(steps, Step{"policy", policy})
	if blocked {
		return steps, nil
	}
	if r := p.Forward.Match(fqdn); r != nil {
		return append(steps, Step{"forward", "zone " + r.Zone + ": " + r.Upstream.String()}), nil
	}
	return append(steps, Step{"forward", "the default upstreams: " + strings.Join(cfg.Upstreams, ", ")}), nil
}

// explainPolicy says what p's policy does with name, and whether it
// answers it (blocked) instead of the upstreams.
func explainPolicy(pc config.Profile, p *resolver.Profile, lists *filter.Manager, fqdn string) (string, bool) {
	if p.Policy == nil {
		return "none: the profile filters nothing", false
	}
	v := p.Policy.Check(fqdn, dns.TypeA)
	switch {
	case v.Action == resolver.ActionAllow:
		return fmt.Sprintf("allowed by the profile's allow entry %q (no list and no CNAME target blocks it)", entryFor(pc.Allow, fqdn)), false
	case v.Action == resolver.ActionRewrite:
		return "safe search: answered with a CNAME to " + v.Target + ", resolved upstream", false
	case v.Action == resolver.ActionNone:
		return "not blocked (an answer whose CNAME points to a blocked name still is)", false
	case v.Category == filter.DenyCategory:
		return fmt.Sprintf("blocked by the profile's deny entry %q (EDE %d)", entryFor(pc.Deny, fqdn), v.EDE), true
	}
	what := fmt.Sprintf("blocked by list category %s (EDE %d)", v.Category, v.EDE)
	if v.Detail != "" {
		what += ": " + v.Detail
	}
	if lines := lists.Explain(v.Category, fqdn); len(lines) > 0 {
		what += "; " + strings.Join(lines, "; ")
	}
	return what, true
}

// entryFor returns the allow or deny entry that matches fqdn.
func entryFor(entries []string, fqdn string) string {
	name := strings.TrimSuffix(fqdn, ".")
	for _, e := range entries {
		n, wild, err := filter.NormalizeName(e)
		if err != nil {
			continue
		}
		if strings.HasSuffix(name, "."+n) || (!wild && name == n) {
			return e
		}
	}
	return ""
}

// urlList stands in for a forward zone's group in an explanation.
type urlList []string

func (u urlList) String() string { return strings.Join(u, ", ") }

func (urlList) Exchange(context.Context, *dns.Msg) (*dns.Msg, error) {
	return nil, errors.New("explain: no query is sent")
}

func (urlList) Close() error { return nil }
