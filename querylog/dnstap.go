package querylog

import (
	"encoding/binary"
	"slices"

	"github.com/miekg/dns"

	dnstap "github.com/dnstap/golang-dnstap"
	"google.golang.org/protobuf/encoding/protowire"

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

// Field numbers of dnstap.proto (golang-dnstap's dnstap.pb.go), in the
// order proto.Marshal writes them: by number.
const (
	fieldDnstapVersion protowire.Number = 2
	fieldDnstapExtra   protowire.Number = 3
	fieldDnstapMessage protowire.Number = 14
	fieldDnstapType    protowire.Number = 15

	fieldMessageType      protowire.Number = 1
	fieldSocketFamily     protowire.Number = 2
	fieldSocketProtocol   protowire.Number = 3
	fieldQueryAddress     protowire.Number = 4
	fieldQueryTimeSec     protowire.Number = 8
	fieldQueryTimeNsec    protowire.Number = 9
	fieldQueryMessage     protowire.Number = 10
	fieldResponseTimeSec  protowire.Number = 12
	fieldResponseTimeNsec protowire.Number = 13
	fieldResponseMessage  protowire.Number = 14
)

// appendDnstap appends r as two length-prefixed Frame Streams data frames:
// CLIENT_QUERY with the query, and CLIENT_RESPONSE with the answer (none
// when admission refused with ErrLimited) and, in extra, the JSON object
// of what dnstap has no field for: profile, client ID, transport, outcome, blocked
// category, EDE, latency and answer size. The query address is the
// client as the Mode writes it, or absent.
//
// The protobuf is written directly (protowire), byte for byte what
// proto.Marshal writes for the same dnstap.Dnstap (TestDnstapMatchesProto
// compares them), without building the messages.
func appendDnstap(buf []byte, r *record) []byte {
	buf = appendTapFrame(buf, r, false)
	return appendTapFrame(buf, r, true)
}

// appendTapFrame appends r's CLIENT_QUERY frame, or its CLIENT_RESPONSE
// frame when response is set.
func appendTapFrame(b []byte, r *record, response bool) []byte {
	frame := len(b)
	b = append(b, 0, 0, 0, 0) // the frame's length, written last
	b = protowire.AppendTag(b, fieldDnstapVersion, protowire.BytesType)
	b = protowire.AppendBytes(b, dnstapVersion)
	if response {
		b = protowire.AppendTag(b, fieldDnstapExtra, protowire.BytesType)
		at := len(b)
		b = prefixLength(appendObject(b, r, false), at)
	}
	b = protowire.AppendTag(b, fieldDnstapMessage, protowire.BytesType)
	at := len(b)
	b = prefixLength(appendTapMessage(b, r, response), at)
	b = protowire.AppendTag(b, fieldDnstapType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(dnstap.Dnstap_MESSAGE))
	binary.BigEndian.PutUint32(b[frame:], uint32(len(b)-frame-4))
	return b
}

// appendTapMessage appends the fields of r's dnstap Message.
func appendTapMessage(b []byte, r *record, response bool) []byte {
	typ := dnstap.Message_CLIENT_QUERY
	if response {
		typ = dnstap.Message_CLIENT_RESPONSE
	}
	b = appendVarintField(b, fieldMessageType, uint64(typ))
	if r.client.IsValid() {
		fam := dnstap.SocketFamily_INET6
		if r.client.Is4() {
			fam = dnstap.SocketFamily_INET
		}
		b = appendVarintField(b, fieldSocketFamily, uint64(fam))
	}
	b = appendVarintField(b, fieldSocketProtocol, uint64(socketProtocols[r.transport]))
	if r.client.IsValid() {
		b = protowire.AppendTag(b, fieldQueryAddress, protowire.BytesType)
		if r.client.Is4() {
			a := r.client.As4()
			b = protowire.AppendBytes(b, a[:])
		} else {
			a := r.client.As16()
			b = protowire.AppendBytes(b, a[:])
		}
	}
	b = appendVarintField(b, fieldQueryTimeSec, uint64(r.time.Unix()))
	b = protowire.AppendTag(b, fieldQueryTimeNsec, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, uint32(r.time.Nanosecond()))
	if !response {
		if q := withoutECS(r.query()); q != nil {
			b = protowire.AppendTag(b, fieldQueryMessage, protowire.BytesType)
			b = protowire.AppendBytes(b, q)
		}
		return b
	}
	at := r.time.Add(r.latency)
	b = appendVarintField(b, fieldResponseTimeSec, uint64(at.Unix()))
	b = protowire.AppendTag(b, fieldResponseTimeNsec, protowire.Fixed32Type)
	b = protowire.AppendFixed32(b, uint32(at.Nanosecond()))
	if a := r.answer(); len(a) > 0 {
		b = protowire.AppendTag(b, fieldResponseMessage, protowire.BytesType)
		b = protowire.AppendBytes(b, a)
	}
	return b
}

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
}

// prefixLength inserts before b[at:], a field's contents just appended,
// their length as a varint (what protowire.AppendBytes would have written).
func prefixLength(b []byte, at int) []byte {
	n := len(b) - at
	k := protowire.SizeVarint(uint64(n))
	var room [binary.MaxVarintLen64]byte
	b = append(b, room[:k]...)
	copy(b[at+k:], b[at:at+n])
	protowire.AppendVarint(b[at:at], uint64(n))
	return b
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
