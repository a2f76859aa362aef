package resolver

import "github.com/miekg/dns"

// Extended DNS Error codes (RFC 8914) that dnsward attaches.
const (
	EDEOther                = dns.ExtendedErrorCodeOther                // 0
	EDEStaleAnswer          = dns.ExtendedErrorCodeStaleAnswer          // 3
	EDEBlocked              = dns.ExtendedErrorCodeBlocked              // 15
	EDEFiltered             = dns.ExtendedErrorCodeFiltered             // 17
	EDEProhibited           = dns.ExtendedErrorCodeProhibited           // 18
	EDENoReachableAuthority = dns.ExtendedErrorCodeNoReachableAuthority // 22
	EDENetworkError         = dns.ExtendedErrorCodeNetworkError         // 23
)

// NewReply returns an answer skeleton for q with the given RCODE: same ID and
// question, RD copied, RA set, and an OPT record when the query had one.
func NewReply(q *dns.Msg, rcode int) *dns.Msg {
	m := new(dns.Msg)
	m.SetRcode(q, rcode)
	m.RecursionAvailable = true
	if opt := q.IsEdns0(); opt != nil {
		m.SetEdns0(dns.DefaultMsgSize, opt.Do())
	}
	return m
}

// AddEDE attaches an Extended DNS Error to m, but only when the query q had an
// OPT record (RFC 8914 §3: never add EDNS to a non-EDNS exchange).
func AddEDE(q, m *dns.Msg, code uint16, text string) {
	if q.IsEdns0() == nil {
		return
	}
	opt := m.IsEdns0()
	if opt == nil {
		m.SetEdns0(dns.DefaultMsgSize, q.IsEdns0().Do())
		opt = m.IsEdns0()
	}
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok && e.InfoCode == code {
			return
		}
	}
	opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: code, ExtraText: text})
}

// edeOptions returns the Extended DNS Error options of m's OPT record.
func edeOptions(m *dns.Msg) []dns.EDNS0 {
	opt := m.IsEdns0()
	if opt == nil {
		return nil
	}
	var ede []dns.EDNS0
	for _, o := range opt.Option {
		if o.Option() == dns.EDNS0EDE {
			ede = append(ede, o)
		}
	}
	return ede
}

// EDE returns the first Extended DNS Error in m, if any.
func EDE(m *dns.Msg) (*dns.EDNS0_EDE, bool) {
	opt := m.IsEdns0()
	if opt == nil {
		return nil, false
	}
	for _, o := range opt.Option {
		if e, ok := o.(*dns.EDNS0_EDE); ok {
			return e, true
		}
	}
	return nil, false
}
