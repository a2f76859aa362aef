package querylog

import (
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// appendJSON appends r as one JSON line.
func appendJSON(buf []byte, r *record) []byte {
	return append(appendObject(buf, r, true), '\n')
}

// appendObject appends what r says as a JSON object, as encoding/json
// would write this struct (without its reflection and allocations):
//
//	struct {
//		Time      string  `json:"time,omitempty"`
//		Client    string  `json:"client,omitempty"`
//		Profile   string  `json:"profile"`
//		ClientID  string  `json:"client_id,omitempty"`
//		Transport string  `json:"transport"`
//		Name      string  `json:"qname,omitempty"`
//		Type      string  `json:"qtype,omitempty"`
//		Rcode     string  `json:"rcode,omitempty"`
//		Outcome   string  `json:"outcome"`
//		Blocked   string  `json:"blocked,omitempty"`
//		EDE       *uint16 `json:"ede,omitempty"`
//		LatencyUS int64   `json:"latency_us"`
//		Size      int     `json:"size"`
//	}
//
// full adds the fields dnstap carries in its own (time, client, qname,
// qtype, rcode): the JSON sink's lines have them all, dnstap's extra field
// the rest.
func appendObject(b []byte, r *record, full bool) []byte {
	b = append(b, '{')
	if full {
		b = append(b, `"time":"`...)
		b = append(r.time.UTC().AppendFormat(b, time.RFC3339Nano), `",`...)
		if r.client.IsValid() {
			b = append(b, `"client":"`...)
			b = append(r.client.AppendTo(b), `",`...)
		}
	}
	b = appendString(append(b, `"profile":`...), r.profile)
	if r.clientID != "" {
		b = appendString(append(b, `,"client_id":`...), r.clientID)
	}
	b = append(append(b, `,"transport":"`...), r.transport.String()...) // names need no escaping
	b = append(b, '"')
	ans := r.answer()
	rcode, ede, hasEDE := -1, uint16(0), false
	if len(ans) > 0 {
		rcode, ede, hasEDE = answerFacts(ans)
	}
	if full {
		if name, qtype, ok := question(r.query()); ok {
			b = appendString(append(b, `,"qname":`...), name)
			b = appendString(append(b, `,"qtype":`...), dns.Type(qtype).String())
		}
		if s := dns.RcodeToString[rcode]; s != "" {
			b = appendString(append(b, `,"rcode":`...), s)
		}
	}
	b = append(append(b, `,"outcome":"`...), r.outcome.String()...)
	b = append(b, '"')
	if r.category != "" {
		b = appendString(append(b, `,"blocked":`...), r.category)
	}
	if hasEDE {
		b = strconv.AppendUint(append(b, `,"ede":`...), uint64(ede), 10)
	}
	b = strconv.AppendInt(append(b, `,"latency_us":`...), r.latency.Microseconds(), 10)
	b = strconv.AppendInt(append(b, `,"size":`...), int64(len(ans)), 10)
	return append(b, '}')
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c >= 0x7f:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
