package certs

import (
	"context"
	"fmt"
	"time"

	"github.com/libdns/libdns"
	"github.com/miekg/dns"
)

// rfc2136 is certmagic's DNS-01 provider (libdns RecordAppender and
// RecordDeleter): it adds and removes the challenge TXT records by dynamic
// update (RFC 2136) over TCP, signed with TSIG (RFC 8945). Only TXT records
// are supported, and DeleteRecords removes exactly the records given.
type rfc2136 struct {
	server    string // host:port
	key       string // TSIG key name, fully qualified
	algorithm string // miekg/dns's name, e.g. dns.HmacSHA256
	secret    Secret // base64
}

// newRFC2136 builds the provider from validated settings.
func newRFC2136(d DNSConfig) *rfc2136 {
	return &rfc2136{server: d.Server, key: d.TSIGKey, algorithm: tsigAlgorithms[d.TSIGAlgorithm], secret: d.TSIGSecret}
}

// AppendRecords adds recs to zone in one update and returns them as TXT.
func (p *rfc2136) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return p.update(ctx, zone, recs, (*dns.Msg).Insert)
}

// DeleteRecords removes recs (name, type and text must match; the TTL is
// ignored) from zone in one update and returns them as TXT. Records that do
// not exist are ignored, as RFC 2136 §2.5.4 does.
func (p *rfc2136) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	return p.update(ctx, zone, recs, (*dns.Msg).Remove)
}

// update sends one signed UPDATE for zone that applies op to recs.
func (p *rfc2136) update(ctx context.Context, zone string, recs []libdns.Record, op func(*dns.Msg, []dns.RR)) ([]libdns.Record, error) {
	zone = dns.Fqdn(zone)
	rrs := make([]dns.RR, len(recs))
	out := make([]libdns.Record, len(recs))
	for i, rec := range recs {
		rr := rec.RR()
		if rr.Type != "TXT" {
			return nil, fmt.Errorf("rfc2136: record type %s: only TXT is supported", rr.Type)
		}
		rrs[i] = &dns.TXT{
			Hdr: dns.RR_Header{Name: libdns.AbsoluteName(rr.Name, zone), Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: uint32(rr.TTL / time.Second)},
			Txt: splitTXT(rr.Data),
		}
		out[i] = libdns.TXT{Name: rr.Name, TTL: rr.TTL, Text: rr.Data}
	}
	m := new(dns.Msg)
	m.SetUpdate(zone)
	op(m, rrs)
	m.SetTsig(p.key, p.algorithm, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", Timeout: 10 * time.Second, TsigSecret: map[string]string{p.key: string(p.secret)}}
	r, _, err := c.ExchangeContext(ctx, m, p.server)
	if r != nil && r.Rcode != dns.RcodeSuccess { // a refusal is often unsigned (err is then ErrAuth): say why
		why := dns.RcodeToString[r.Rcode]
		if t := r.IsTsig(); t != nil && t.Error != dns.RcodeSuccess {
			why += " (TSIG " + dns.RcodeToString[int(t.Error)] + ")"
		}
		return nil, fmt.Errorf("rfc2136: update of %s at %s refused: %s", zone, p.server, why)
	}
	if err != nil {
		return nil, fmt.Errorf("rfc2136: update of %s at %s: %w", zone, p.server, err)
	}
	return out, nil
}

// splitTXT cuts text into the 255-byte character-strings of a TXT record
// (RFC 1035 §3.3.14).
func splitTXT(text string) []string {
	parts := []string{}
	for len(text) > 255 {
		parts = append(parts, text[:255])
		text = text[255:]
	}
	return append(parts, text)
}
