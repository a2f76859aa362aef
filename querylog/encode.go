package querylog

import (
	"encoding/json"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/resolver"
)

// fields are what every record says, as the JSON sink writes a line and
// the dnstap sink its extra field (without the parts dnstap has fields
// for).
type fields struct {
	Time      string  `json:"time,omitempty"`
	Client    string  `json:"client,omitempty"`
	Profile   string  `json:"profile"`
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
		Profile: r.profile, Transport: r.transport.String(), Outcome: r.outcome.String(), Blocked: r.category,
		LatencyUS: r.latency.Microseconds(), Size: len(r.answer()),
	}
	var a dns.Msg
	if len(r.answer()) > 0 && a.Unpack(r.answer()) == nil {
		if opt := a.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if e, ok := o.(*dns.EDNS0_EDE); ok {
					f.EDE = &e.InfoCode
					break
				}
			}
		}
		if full {
			f.Rcode = dns.RcodeToString[a.Rcode]
		}
	}
	if !full {
		return f
	}
	f.Time = r.time.UTC().Format(time.RFC3339Nano)
	if r.client.IsValid() {
		f.Client = r.client.String()
	}
	var q dns.Msg
	if q.Unpack(r.query()) == nil && len(q.Question) == 1 {
		f.Name, f.Type = q.Question[0].Name, dns.Type(q.Question[0].Qtype).String()
	}
	if r.outcome == resolver.OutcomeLimited {
		f.Size = 0
	}
	return f
}

// appendJSON appends r as one JSON line.
func appendJSON(buf []byte, r *record) []byte {
	b, _ := json.Marshal(describe(r, true)) // cannot fail: strings and numbers
	return append(append(buf, b...), '\n')
}
