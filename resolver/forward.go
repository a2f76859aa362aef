package resolver

import (
	"context"

	"github.com/miekg/dns"
)

// forward is the innermost step: it sends a privacy-normalised copy of the
// query to the upstream group: its forward zone's, else the default one.
type forward struct {
	up Upstream
}

func (f *forward) ServeDNS(ctx context.Context, req *Request) (*dns.Msg, error) {
	up := f.up
	if r := req.route(); r != nil {
		up = r.Upstream
	}
	resp, err := up.Exchange(ctx, upstreamQuery(req.Msg))
	if err != nil {
		return nil, err
	}
	// The upstream's OPT (cookies, padding) is not the client's business,
	// and dropping it here keeps cache hits and misses alike. Its Extended
	// DNS Errors on a failure are: they tell broken DNSSEC (EDE 6-12) or a
	// lame authority (EDE 22) from dnsward's own errors, and failures are
	// never cached. The entry step moves them into the client's OPT.
	var ede []dns.EDNS0
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		ede = edeOptions(resp)
	}
	removeOPT(resp)
	if len(ede) > 0 {
		resp.SetEdns0(AdvertisedUDPSize, false)
		resp.IsEdns0().Option = ede
	}
	return resp, nil
}

// upstreamQuery copies the parts of q an upstream needs and nothing more: the
// question, the client's CD bit, and a fresh OPT record with the normalised
// UDP size and the client's DO bit. AD is always set (RFC 6840 §5.7), so the
// upstream says whether it validated whatever the client asked and one
// cached answer serves clients with and without AD; the entry step clears
// it for those that asked for neither AD nor DO (RFC 6840 §5.8). Client
// options — EDNS Client Subnet above all, but also cookies, padding and
// keepalive — are never forwarded.
func upstreamQuery(q *dns.Msg) *dns.Msg {
	m := &dns.Msg{MsgHdr: dns.MsgHdr{
		Opcode:            q.Opcode,
		RecursionDesired:  true,
		CheckingDisabled:  q.CheckingDisabled,
		AuthenticatedData: true,
	}}
	m.Question = []dns.Question{q.Question[0]}
	do := false
	if opt := q.IsEdns0(); opt != nil {
		do = opt.Do()
	}
	m.SetEdns0(AdvertisedUDPSize, do)
	return m
}
