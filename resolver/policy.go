package resolver

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// rewriteTTL is the TTL of safe-search CNAMEs, which never change. Blocked
// answers take their profile's BlockedTTL.
const rewriteTTL = 300

// PolicyConfig configures the policy step.
type PolicyConfig struct {
	Logger  *slog.Logger          // nil: slog.Default()
	Metrics prometheus.Registerer // nil: metrics are not registered
}

// policyStep applies each request's Profile.Policy; see NewPolicyStep.
type policyStep struct {
	next     Handler
	log      *slog.Logger
	blocked  *prometheus.CounterVec
	rewrites *prometheus.CounterVec
}

// NewPolicyStep returns the chain step that enforces the profile's Policy:
// a blocked name is answered the profile's way (with an Extended DNS Error
// when the query had OPT), a safe-search name is answered with a CNAME to
// the enforced host resolved through next, anything else goes to next and
// its answer is blocked if a CNAME in it points to a blocked name (CNAME
// uncloaking), unless an allow entry matched the query name. Profiles
// without a Policy pass straight through.
func NewPolicyStep(cfg PolicyConfig) (Middleware, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	blocked := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnsward_policy_blocked_total", Help: "Blocked answers by profile and list category.",
	}, []string{"profile", "category"})
	rewrites := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnsward_policy_rewrites_total", Help: "Safe-search rewrites by profile.",
	}, []string{"profile"})
	if cfg.Metrics != nil {
		for _, c := range []prometheus.Collector{blocked, rewrites} {
			if err := cfg.Metrics.Register(c); err != nil {
				return nil, fmt.Errorf("policy: metrics: %w", err)
			}
		}
	}
	return func(next Handler) Handler {
		return &policyStep{next: next, log: log, blocked: blocked, rewrites: rewrites}
	}, nil
}

// ServeDNS implements Handler.
func (s *policyStep) ServeDNS(ctx context.Context, req *Request) (*dns.Msg, error) {
	if req.Profile == nil || req.Profile.Policy == nil || len(req.Msg.Question) != 1 {
		return s.next.ServeDNS(ctx, req)
	}
	pol, q := req.Profile.Policy, req.Msg.Question[0]
	v := pol.Check(lowerName(q.Name), q.Qtype)
	switch v.Action {
	case ActionBlock:
		if t := localCNAME(v.Answer); t != "" {
			return s.rewrite(ctx, req, t, &v)
		}
		return s.block(req, v), nil
	case ActionRewrite:
		req.countPolicy(s.rewrites.WithLabelValues(req.Profile.Name))
		return s.rewrite(ctx, req, dns.Fqdn(v.Target), nil)
	}
	resp, err := s.next.ServeDNS(ctx, req)
	if err != nil || resp == nil || v.Action == ActionAllow {
		return resp, err
	}
	for _, rr := range resp.Answer {
		if c, ok := rr.(*dns.CNAME); ok {
			if cv := pol.Check(lowerName(c.Target), q.Qtype); cv.Action == ActionBlock {
				s.log.Debug("policy: blocked CNAME target", "profile", req.Profile.Name, "name", q.Name,
					"target", c.Target, "category", cv.Category)
				return s.block(req, cv), nil
			}
		}
	}
	return resp, nil
}

// block builds the blocked answer v asks for.
func (s *policyStep) block(req *Request, v Verdict) *dns.Msg {
	q := req.Msg.Question[0]
	rcode := dns.RcodeSuccess
	switch v.Answer.Kind {
	case BlockNXDomain:
		rcode = dns.RcodeNameError
	case BlockRefused:
		rcode = dns.RcodeRefused
	}
	m := NewReply(req.Msg, rcode)
	ttl := req.Profile.blockedTTL()
	switch v.Answer.Kind {
	case BlockNullIP:
		m.Answer = addrRecords(q, ttl, []netip.Addr{netip.IPv4Unspecified(), netip.IPv6Unspecified()})
	case BlockCustomIP:
		m.Answer = addrRecords(q, ttl, v.Answer.Addrs)
	case BlockRecords:
		m.Answer = localRecords(q, v.Answer.Records)
	}
	if rcode != dns.RcodeRefused && len(m.Answer) == 0 { // NXDOMAIN or NODATA
		m.Ns = []dns.RR{blockedSOA(q.Name, ttl)}
	}
	s.flag(req, m, v)
	return m
}

// blockedSOA is the SOA of a blocked NXDOMAIN or NODATA answer, without
// which caches may not keep it (RFC 2308 §5). The blocked name's zone is
// unknown, so, as AdGuard Home does, the name stands as its own zone apex;
// the servers are under invalid. (RFC 6761), and the SOA's TTL and MINIMUM,
// whose lower is the negative TTL, are both ttl.
func blockedSOA(name string, ttl uint32) *dns.SOA {
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns:  "blocked.dnsward.invalid.", Mbox: "hostmaster.dnsward.invalid.",
		Serial: 1, Refresh: 1800, Retry: 900, Expire: 604800, Minttl: ttl,
	}
}

// flag attaches the EDE and counts the block.
func (s *policyStep) flag(req *Request, m *dns.Msg, v Verdict) {
	AddEDE(req.Msg, m, v.EDE, edeText(v))
	req.countPolicy(s.blocked.WithLabelValues(req.Profile.Name, v.Category))
	req.category = v.Category
}

// rewrite answers a CNAME from the query name to target and resolves
// target through next with the same type. A non-nil v is the block that
// asked for it (RPZ local-data CNAME), flagged like any other block.
func (s *policyStep) rewrite(ctx context.Context, req *Request, target string, v *Verdict) (*dns.Msg, error) {
	q := req.Msg.Question[0]
	sub := req.Msg.Copy()
	sub.Question[0].Name = target
	subReq := *req
	subReq.Msg = sub
	resp, err := s.next.ServeDNS(ctx, &subReq)
	if err != nil {
		return nil, err
	}
	// For replay: the answer is made of the target's.
	req.reuse.cached, req.reuse.uncacheable, req.reuse.stale = subReq.reuse.cached, subReq.reuse.uncacheable, subReq.reuse.stale
	req.upstream = subReq.upstream
	m := NewReply(req.Msg, resp.Rcode)
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: rewriteTTL}, Target: target}
	m.Answer = append([]dns.RR{cname}, resp.Answer...)
	m.Ns = resp.Ns
	if v != nil {
		s.flag(req, m, *v)
	}
	return m, nil
}

func edeText(v Verdict) string {
	what := v.Category
	if v.Detail != "" {
		what += ": " + v.Detail
	}
	if v.EDE == EDEBlocked {
		return "blocked: " + what
	}
	return "filtered: " + what
}

// localCNAME returns the target of a local-data CNAME, which is resolved
// like a safe-search rewrite.
func localCNAME(a BlockedAnswer) string {
	if a.Kind != BlockRecords {
		return ""
	}
	for _, rr := range a.Records {
		if c, ok := rr.(*dns.CNAME); ok {
			return c.Target
		}
	}
	return ""
}

// addrRecords answers A or AAAA questions with the matching addresses and
// TTL ttl; other types get no records (NODATA).
func addrRecords(q dns.Question, ttl uint32, addrs []netip.Addr) []dns.RR {
	var rrs []dns.RR
	hdr := dns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: dns.ClassINET, Ttl: ttl}
	for _, a := range addrs {
		switch {
		case q.Qtype == dns.TypeA && a.Is4():
			rrs = append(rrs, &dns.A{Hdr: hdr, A: a.AsSlice()})
		case q.Qtype == dns.TypeAAAA && a.Is6() && !a.Is4In6():
			rrs = append(rrs, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
		}
	}
	return rrs
}

// localRecords returns copies of the local-data records of the question's
// type, owned by the query name.
func localRecords(q dns.Question, records []dns.RR) []dns.RR {
	var rrs []dns.RR
	for _, rr := range records {
		if rr.Header().Rrtype == q.Qtype || q.Qtype == dns.TypeANY {
			c := dns.Copy(rr)
			c.Header().Name = q.Name
			rrs = append(rrs, c)
		}
	}
	return rrs
}
