package frontend

import (
	"context"
	"errors"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/resolver"
)

// PadBlock is the response padding block size RFC 8467 §4.1 recommends.
const PadBlock = resolver.ResponsePaddingBlock

// Resolve asks h for the answer to req. When h fails the answer is SERVFAIL
// and the error is returned for logging; when h returns resolver.ErrDrop the
// answer is nil: nothing is to be sent.
func Resolve(ctx context.Context, h resolver.Handler, req *resolver.Request) (*dns.Msg, error) {
	resp, err := h.ServeDNS(ctx, req)
	if errors.Is(err, resolver.ErrDrop) {
		return nil, err
	}
	if err != nil || resp == nil {
		return resolver.NewReply(req.Msg, dns.RcodeServerFailure), err
	}
	return resp, nil
}

// Finish adapts a handler's answer to the query q for a stream transport and
// returns the message to send. resp is never modified (it may be shared with
// a cache): the result is a shallow copy with its own header and OPT record.
//
//   - the ID is q's;
//   - any edns-tcp-keepalive or padding option the answer carried is dropped;
//   - keepalive > 0 (in 100 ms units, RFC 7828) is advertised when q carried
//     the keepalive option;
//   - when q was padded (RFC 7830), the answer is padded to a multiple of
//     PadBlock bytes (RFC 8467 block-length padding).
func Finish(q, resp *dns.Msg, keepalive uint16) *dns.Msg {
	r := *resp
	r.Id = q.Id
	r.Compress = true
	qopt := q.IsEdns0()
	ropt := resp.IsEdns0()
	if qopt == nil && ropt == nil {
		return &r
	}
	wantKeepalive := keepalive > 0 && qopt != nil && hasOption(qopt, dns.EDNS0TCPKEEPALIVE)
	wantPadding := qopt != nil && hasOption(qopt, dns.EDNS0PADDING)
	if ropt != nil && !wantKeepalive && !wantPadding &&
		!hasOption(ropt, dns.EDNS0TCPKEEPALIVE) && !hasOption(ropt, dns.EDNS0PADDING) {
		return &r
	}
	opt := newOPT(ropt, qopt)
	if wantKeepalive {
		opt.Option = append(opt.Option, &dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE, Timeout: keepalive})
	}
	r.Extra = withOPT(resp.Extra, opt)
	if wantPadding {
		resolver.PadResponse(q, &r) // changes only the OPT record built here
	}
	return &r
}

// HasKeepalive reports whether m carries the edns-tcp-keepalive option.
func HasKeepalive(m *dns.Msg) bool {
	opt := m.IsEdns0()
	return opt != nil && hasOption(opt, dns.EDNS0TCPKEEPALIVE)
}

func hasOption(opt *dns.OPT, code uint16) bool {
	for _, o := range opt.Option {
		if o.Option() == code {
			return true
		}
	}
	return false
}

// newOPT copies ropt without keepalive and padding options, or builds an OPT
// like the query's when the answer had none.
func newOPT(ropt, qopt *dns.OPT) *dns.OPT {
	if ropt == nil {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(dns.DefaultMsgSize)
		o.SetDo(qopt.Do())
		return o
	}
	o := &dns.OPT{Hdr: ropt.Hdr}
	o.Option = make([]dns.EDNS0, 0, len(ropt.Option)+1)
	for _, e := range ropt.Option {
		if c := e.Option(); c != dns.EDNS0TCPKEEPALIVE && c != dns.EDNS0PADDING {
			o.Option = append(o.Option, e)
		}
	}
	return o
}

// withOPT returns a new Extra section with opt in place of any OPT record.
func withOPT(extra []dns.RR, opt *dns.OPT) []dns.RR {
	out := make([]dns.RR, 0, len(extra)+1)
	for _, rr := range extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			out = append(out, rr)
		}
	}
	return append(out, opt)
}
