package querylog

import (
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// fields are what every record says, as the JSON sink writes a line and
// the dnstap sink its extra field (without the parts dnstap has fields
// for).
type fields struct {
	Time      string  `json:"time,omitempty"`
	Client    string  `json:"client,omitempty"`
	Profile   string  `json:"profile"`
	ClientID  string  `json:"client_id,omitempty"`
	Transport string  `json:"transport"`
	Name      string  `json:"qname,omitempty"`
	Type      string  `json:"qtype,omitempty"`
	Rcode     string  `json:"rcode,omitempty"`
	Outcome   string  `json:"outcome"`
	Blocked   string  `json:"blocked,omitempty"`
	EDE       *uint16 `json:"ede,omitempty"`
	LatencyUS int64   `json:"latency_us"`
	Size      int     `json:"size"`
}

// describe reads r's messages for the fields; full adds those dnstap
// carries in its own fields (time, client, name, type, rcode).
func describe(r *record, full bool) fields {
	f := fields{
		Profile: r.profile, ClientID: r.clientID, Transport: r.transport.String(), Outcome: r.outcome.String(), Blocked: r.category,
		LatencyUS: r.latency.Microseconds(), Size: len(r.answer()),
	}
	if len(r.answer()) > 0 {
		rcode, ede, ok := answerFacts(r.answer())
		if ok {
			f.EDE = &ede
		}
		if full && rcode >= 0 {
			f.Rcode = dns.RcodeToString[rcode]
		}
	}
	if !full {
		return f
	}
	f.Time = r.time.UTC().Format(time.RFC3339Nano)
	if r.client.IsValid() {
		f.Client = r.client.String()
	}
	if name, qtype, ok := question(r.query()); ok {
		f.Name, f.Type = name, dns.Type(qtype).String()
	}
	return f
}

// appendJSON appends r as one JSON line.
func appendJSON(buf []byte, r *record) []byte {
	f := describe(r, true)
	return append(f.appendJSON(buf), '\n')
}

// appendJSON appends f as a JSON object, fields in the order of the struct
// (what encoding/json would write, without its reflection).
func (f *fields) appendJSON(b []byte) []byte {
	start := len(b)
	b = append(b, '{')
	str := func(key, v string, omitEmpty bool) {
		if v == "" && omitEmpty {
			return
		}
		if len(b) > start+1 {
			b = append(b, ',')
		}
		b = appendString(append(appendString(b, key), ':'), v)
	}
	num := func(key string, v int64) {
		if len(b) > start+1 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(append(appendString(b, key), ':'), v, 10)
	}
	str("time", f.Time, true)
	str("client", f.Client, true)
	str("profile", f.Profile, false)
	str("client_id", f.ClientID, true)
	str("transport", f.Transport, false)
	str("qname", f.Name, true)
	str("qtype", f.Type, true)
	str("rcode", f.Rcode, true)
	str("outcome", f.Outcome, false)
	str("blocked", f.Blocked, true)
	if f.EDE != nil {
		num("ede", int64(*f.EDE))
	}
	num("latency_us", f.LatencyUS)
	num("size", int64(f.Size))
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
