package resolver

import (
	"context"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// match looks name up in the profile's local data, then in the global.
func (l *local) match(req *Request, name string) (*LocalData, localMatch) {
	var own *LocalRecords
	if req.Profile != nil {
		own = req.Profile.Local
	}
	return matchLocal(name, own, l.records)
}

// matchLocal looks name up in each scope's data in turn.
func matchLocal(name string, scopes ...*LocalRecords) (*LocalData, localMatch) {
	for _, recs := range scopes {
		if d := recs.Load(); d != nil {
			if m := d.lookup(name); m.found {
				return d, m
			}
		}
	}
	return nil, localMatch{}
}

// ExplainLocal says what the local step answers for name (lower-case,
// fully qualified) from a profile's own records and the global ones, the
// way it looks them up; false when neither holds the name.
func ExplainLocal(name string, profile, global *LocalRecords) (string, bool) {
	d, m := matchLocal(name, profile, global)
	switch {
	case !m.found:
		return "", false
	case m.nx:
		return fmt.Sprintf("NXDOMAIN: no such name in the local zone %s (SOA %s)", m.apex, d.soa(m).Hdr.Name), true
	case m.rrs == nil:
		return fmt.Sprintf("NODATA: an empty non-terminal of the local zone %s", m.apex), true
	}
	var recs []string
	for _, rr := range m.rrs {
		recs = append(recs, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	what := "records"
	if strings.HasPrefix(m.owner, "*.") {
		what = "wildcard " + m.owner
	}
	if m.apex != "" {
		what += " in the local zone " + m.apex
	}
	return what + ": " + strings.Join(recs, "; "), true
}

// answer builds the authoritative answer for a name local data holds: its
// records of the asked type, NODATA or NXDOMAIN with an SOA, or its CNAME
// followed through local data and then, for a name local data does not
// hold, through the rest of the chain (policy applies to that target).
func (l *local) answer(ctx context.Context, req *Request, d *LocalData, m localMatch) (*dns.Msg, error) {
	q := req.Msg.Question[0]
	resp := NewReply(req.Msg, dns.RcodeSuccess)
	resp.Authoritative = true
	owner := q.Name
	for range maxCNAMEChain {
		if m.nx {
			resp.Rcode = dns.RcodeNameError
			resp.Ns = []dns.RR{d.soa(m)}
			return resp, nil
		}
		rrs := recordsOf(m.rrs, q.Qtype, owner)
		if len(rrs) == 0 && q.Qtype != dns.TypeCNAME {
			rrs = recordsOf(m.rrs, dns.TypeCNAME, owner)
		}
		if len(rrs) == 0 {
			resp.Ns = []dns.RR{d.soa(m)}
			return resp, nil
		}
		resp.Answer = append(resp.Answer, rrs...)
		c, ok := rrs[0].(*dns.CNAME)
		if !ok || q.Qtype == dns.TypeCNAME {
			return resp, nil
		}
		owner = c.Target
		if d, m = l.match(req, lowerName(owner)); !m.found {
			return l.chase(ctx, req, resp, owner)
		}
	}
	return resp, nil // a longer chain (or a loop): the client follows what it got
}

// chase resolves target, the end of resp's local CNAME chain, through the
// rest of the chain and appends its answer.
func (l *local) chase(ctx context.Context, req *Request, resp *dns.Msg, target string) (*dns.Msg, error) {
	sub := *req
	sub.Msg = req.Msg.Copy()
	sub.Msg.Question[0].Name = target
	tr, err := l.next.ServeDNS(ctx, &sub)
	if err != nil {
		return nil, err
	}
	// For replay and the query log: the answer is made of the target's.
	req.reuse, req.upstream, req.category = sub.reuse, sub.upstream, sub.category
	resp.Rcode = tr.Rcode
	resp.Answer = append(resp.Answer, tr.Answer...)
	resp.Ns = tr.Ns
	resp.Extra = tr.Extra // with its OPT: the EDE of a blocked target
	return resp, nil
}

// recordsOf returns copies of the records of type t (every one for ANY),
// owned by owner (the query's spelling, or a wildcard's synthesized name).
func recordsOf(rrs []dns.RR, t uint16, owner string) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == t || t == dns.TypeANY {
			c := dns.Copy(rr)
			c.Header().Name = owner
			out = append(out, c)
		}
	}
	return out
}
