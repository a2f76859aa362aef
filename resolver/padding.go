package resolver

import "github.com/miekg/dns"

// ResponsePaddingBlock is the block size RFC 8467 §4.1 recommends for responses.
const ResponsePaddingBlock = 468

// PadResponse pads resp to a multiple of ResponsePaddingBlock bytes when the
// query carried an EDNS(0) Padding option (RFC 7830, RFC 8467). Only encrypted
// transports call it. Any padding already in resp is replaced.
func PadResponse(query, resp *dns.Msg) {
	qopt := query.IsEdns0()
	if qopt == nil || !hasPadding(qopt) {
		return
	}
	opt := resp.IsEdns0()
	if opt == nil {
		resp.SetEdns0(dns.DefaultMsgSize, qopt.Do())
		opt = resp.IsEdns0()
	}
	kept := opt.Option[:0]
	for _, o := range opt.Option {
		if o.Option() != dns.EDNS0PADDING {
			kept = append(kept, o)
		}
	}
	opt.Option = kept
	// Len is the packed size; the padding option adds 4 bytes of header.
	size := resp.Len() + 4
	n := (ResponsePaddingBlock - size%ResponsePaddingBlock) % ResponsePaddingBlock
	opt.Option = append(opt.Option, &dns.EDNS0_PADDING{Padding: make([]byte, n)})
}

func hasPadding(opt *dns.OPT) bool {
	for _, o := range opt.Option {
		if o.Option() == dns.EDNS0PADDING {
			return true
		}
	}
	return false
}
