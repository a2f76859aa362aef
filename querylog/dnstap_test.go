package querylog

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	dnstap "github.com/dnstap/golang-dnstap"
	"github.com/miekg/dns"
	"google.golang.org/protobuf/proto"

	"github.com/dnsward/dnsward/internal/transport"
	"github.com/dnsward/dnsward/resolver"
)

// appendDnstapProto is appendDnstap the obvious way: golang-dnstap's
// messages, marshalled by proto. appendDnstap must write the same bytes
// (and can go back to this should they ever differ).
func appendDnstapProto(buf []byte, r *record) []byte {
	extra := appendObject(nil, r, false)
	m := &dnstap.Message{
		Type:           dnstap.Message_CLIENT_QUERY.Enum(),
		SocketProtocol: socketProtocols[r.transport].Enum(),
		QueryTimeSec:   proto.Uint64(uint64(r.time.Unix())),
		QueryTimeNsec:  proto.Uint32(uint32(r.time.Nanosecond())),
		QueryMessage:   withoutECS(r.query()),
	}
	if r.client.IsValid() {
		fam := dnstap.SocketFamily_INET6
		if r.client.Is4() {
			fam = dnstap.SocketFamily_INET
		}
		m.SocketFamily, m.QueryAddress = fam.Enum(), r.client.AsSlice()
	}
	buf = appendProtoFrame(buf, &dnstap.Dnstap{Type: dnstap.Dnstap_MESSAGE.Enum(), Version: dnstapVersion, Message: m})
	resp := proto.CloneOf(m)
	resp.Type = dnstap.Message_CLIENT_RESPONSE.Enum()
	resp.QueryMessage = nil
	if len(r.answer()) > 0 {
		resp.ResponseMessage = r.answer()
	}
	at := r.time.Add(r.latency)
	resp.ResponseTimeSec, resp.ResponseTimeNsec = proto.Uint64(uint64(at.Unix())), proto.Uint32(uint32(at.Nanosecond()))
	return appendProtoFrame(buf, &dnstap.Dnstap{Type: dnstap.Dnstap_MESSAGE.Enum(), Version: dnstapVersion, Extra: extra, Message: resp})
}

func appendProtoFrame(buf []byte, d *dnstap.Dnstap) []byte {
	at := len(buf)
	buf = append(buf, 0, 0, 0, 0)
	buf, _ = proto.MarshalOptions{}.MarshalAppend(buf, d)
	binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
	return buf
}

// TestDnstapMatchesProto: the frames appendDnstap writes are byte for byte
// those golang-dnstap's messages marshal to, for every shape a record
// takes: each client form, each transport, no answer, an ECS option cut
// from the query, and messages long enough for two- and three-byte
// lengths.
func TestDnstapMatchesProto(t *testing.T) {
	msg := func(name string, ecs bool, answers int) (q, a []byte) {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeTXT)
		m.SetEdns0(1232, true)
		if ecs {
			m.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: netip.MustParseAddr("198.51.100.0").AsSlice()}}
		}
		q, _ = m.Pack()
		r := new(dns.Msg)
		r.SetReply(m)
		for i := range answers {
			r.Answer = append(r.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: uint32(i)},
				Txt: []string{strings.Repeat("x", 200)}})
		}
		r.SetEdns0(1232, true)
		r.IsEdns0().Option = []dns.EDNS0{&dns.EDNS0_EDE{InfoCode: 15, ExtraText: "blocked \"here\""}}
		a, _ = r.Pack()
		return q, a
	}
	short, shortAns := msg("a.example.", false, 0)
	ecsQ, mid := msg("b.example.", true, 1)
	_, long := msg("c.example.", false, 100) // over 16 KiB: a three-byte length
	tests := []struct {
		name     string
		client   string
		kind     transport.Kind
		outcome  resolver.Outcome
		q, a     []byte
		received time.Time
		latency  time.Duration
	}{
		{"ipv4 client", "192.0.2.7", transport.UDP, resolver.OutcomeCache, short, shortAns, time.Unix(1700000000, 999_999_999), 2 * time.Nanosecond},
		{"pseudonym", "100::2a", transport.DoH2, resolver.OutcomeUpstream, ecsQ, mid, time.Unix(1, 0), time.Second},
		{"no client", "", transport.DoQ, resolver.OutcomeStale, short, long, time.Unix(1800000000, 5), time.Hour},
		{"limited", "198.51.100.0", transport.DoT, resolver.OutcomeLimited, short, nil, time.Unix(1700000000, 0), 0},
		{"tcp", "100::", transport.TCP, resolver.OutcomeLocal, short, shortAns, time.Unix(1700000000, 1), time.Millisecond},
		{"doh3", "100::", transport.DoH3, resolver.OutcomeLocal, short, shortAns, time.Unix(1700000000, 1), time.Millisecond},
		{"doh1", "100::", transport.DoH1, resolver.OutcomeLocal, short, shortAns, time.Unix(1700000000, 1), time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var client netip.Addr
			if tt.client != "" {
				client = netip.MustParseAddr(tt.client)
			}
			rec := resolver.LogRecord{Received: tt.received, Latency: tt.latency, Transport: tt.kind, Profile: "kids",
				Outcome: tt.outcome, Category: "ads", QueryWire: tt.q, ResponseWire: tt.a}
			r := queued(rec, client)
			prefix := []byte("earlier frames")
			got := appendDnstap(bytes.Clone(prefix), &r)
			want := appendDnstapProto(bytes.Clone(prefix), &r)
			if !bytes.Equal(got, want) {
				t.Fatalf("appendDnstap wrote\n%x\nproto.Marshal\n%x", got, want)
			}
		})
	}
}
