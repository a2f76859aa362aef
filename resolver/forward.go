package resolver

import (
	"context"

	"github.com/miekg/dns"
)

// forward is the innermost step: it sends a privacy-normalised copy of the
// query to the upstream group.
type forward struct {
	up Upstream
}

func (f *forward) ServeDNS(ctx context.Context, req *Request) (*dns.Msg, error) {
	resp, err := f.up.Exchange(ctx, upstreamQuery(req.Msg))
	if err != nil {
		return nil, err
	}
	// The upstream's OPT (its EDE, cookies, padding) is not the client's
	// business, and dropping it here keeps cache hits and misses alike.
	removeOPT(resp)
	return resp, nil
}

// upstreamQuery copies the parts of q an upstream needs and nothing more: the
// question and flags, and a fresh OPT record with the normalised UDP size and
// the client's DO bit. Client options — EDNS Client Subnet above all, but
// also cookies, padding and keepalive — are never forwarded.
func upstreamQuery(q *dns.Msg) *dns.Msg {
	m := &dns.Msg{MsgHdr: dns.MsgHdr{
		Opcode:            q.Opcode,
		RecursionDesired:  true,
		CheckingDisabled:  q.CheckingDisabled,
		AuthenticatedData: q.AuthenticatedData,
	}}
	m.Question = []dns.Question{q.Question[0]}
	do := false
	if opt := q.IsEdns0(); opt != nil {
		do = opt.Do()
	}
	m.SetEdns0(AdvertisedUDPSize, do)
	return m
}
