package doq

import "github.com/miekg/dns"

// replaySafe reports whether q may be answered from 0-RTT data, which an
// attacker can replay (RFC 9250 §4.5, RFC 8446 §8). Safe means a standard
// query (opcode QUERY) for exactly one name in class IN, carrying no records
// beyond an OPT, and not a zone transfer: answering it again changes nothing
// and is what a cache would do. NOTIFY, UPDATE, zone transfers and anything
// unusual wait until the handshake completes.
func replaySafe(q *dns.Msg) bool {
	if q.Opcode != dns.OpcodeQuery || len(q.Question) != 1 || len(q.Answer) != 0 || len(q.Ns) != 0 {
		return false
	}
	if len(q.Extra) > 1 || len(q.Extra) == 1 && q.Extra[0].Header().Rrtype != dns.TypeOPT {
		return false
	}
	qs := q.Question[0]
	return qs.Qclass == dns.ClassINET && qs.Qtype != dns.TypeAXFR && qs.Qtype != dns.TypeIXFR
}
