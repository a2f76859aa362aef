package querylog

import (
	"encoding/binary"
	"slices"

	"github.com/miekg/dns"

	dnstap "github.com/dnstap/golang-dnstap"
	"google.golang.org/protobuf/proto"

	"github.com/dnsward/dnsward/internal/transport"
)

// socketDOQ is DNS over QUIC in dnstap.proto (DOQ = 7), newer than the
// generated code of golang-dnstap v0.4.0.
const socketDOQ dnstap.SocketProtocol = 7

var socketProtocols = [...]dnstap.SocketProtocol{
	transport.UDP: dnstap.SocketProtocol_UDP, transport.TCP: dnstap.SocketProtocol_TCP,
	transport.DoT: dnstap.SocketProtocol_DOT, transport.DoH1: dnstap.SocketProtocol_DOH,
	transport.DoH2: dnstap.SocketProtocol_DOH, transport.DoH3: dnstap.SocketProtocol_DOH,
	transport.DoQ: socketDOQ,
}

var dnstapVersion = []byte("dnsward")

// appendDnstap appends r as two length-prefixed Frame Streams data frames:
// CLIENT_QUERY with the query, and CLIENT_RESPONSE with the answer (none
// when admission refused with ErrLimited) and, in extra, the JSON object
// of what dnstap has no field for: profile, client ID, transport, outcome, blocked
// category, EDE, latency and answer size. The query address is the
// client as the Mode writes it, or absent.
func appendDnstap(buf []byte, r *record) []byte {
	f := describe(r, false)
	extra := f.appendJSON(nil)
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
	buf = appendFrame(buf, &dnstap.Dnstap{Type: dnstap.Dnstap_MESSAGE.Enum(), Version: dnstapVersion, Message: m})
	resp := proto.CloneOf(m)
	resp.Type = dnstap.Message_CLIENT_RESPONSE.Enum()
	resp.QueryMessage = nil
	if len(r.answer()) > 0 {
		resp.ResponseMessage = r.answer()
	}
	at := r.time.Add(r.latency)
	resp.ResponseTimeSec, resp.ResponseTimeNsec = proto.Uint64(uint64(at.Unix())), proto.Uint32(uint32(at.Nanosecond()))
	return appendFrame(buf, &dnstap.Dnstap{Type: dnstap.Dnstap_MESSAGE.Enum(), Version: dnstapVersion, Extra: extra, Message: resp})
}

// appendFrame appends d as a Frame Streams data frame: its length, then it.
func appendFrame(buf []byte, d *dnstap.Dnstap) []byte {
	at := len(buf)
	buf = append(buf, 0, 0, 0, 0)
	buf, _ = proto.MarshalOptions{}.MarshalAppend(buf, d) // cannot fail: all required fields are set
	binary.BigEndian.PutUint32(buf[at:], uint32(len(buf)-at-4))
	return buf
}

// withoutECS returns the packed query q without EDNS Client Subnet options,
// which carry (part of) an address: the client's own, or one it chose.
func withoutECS(q []byte) []byte {
	ecs := false
	if _, ok := options(q, func(code uint16, _ []byte) { ecs = ecs || code == dns.EDNS0SUBNET }); ok && !ecs {
		return q
	}
	var m dns.Msg
	if m.Unpack(q) != nil {
		return nil // not written: a message that does not parse may hide anything
	}
	opt := m.IsEdns0()
	if opt == nil || !slices.ContainsFunc(opt.Option, isECS) {
		return q
	}
	opt.Option = slices.DeleteFunc(opt.Option, isECS)
	out, err := m.Pack()
	if err != nil {
		return nil
	}
	return out
}

func isECS(o dns.EDNS0) bool { return o.Option() == dns.EDNS0SUBNET }
