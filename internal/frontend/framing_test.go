package frontend

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dnsward/dnsward/resolver"
)

func TestReadFrame(t *testing.T) {
	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	packed, _ := q.Pack()
	framed, _ := AppendFrame(nil, packed)
	for _, tc := range []struct {
		name string
		in   []byte
		want []byte
		err  error
	}{
		{"one query", framed, packed, nil},
		{"empty stream", nil, nil, io.EOF},
		{"half a length", []byte{0}, nil, io.ErrUnexpectedEOF},
		{"zero length", []byte{0, 0}, nil, ErrZeroLength},
		{"cut short", framed[:len(framed)-1], nil, io.ErrUnexpectedEOF},
		{"shorter than a header", []byte{0, 3, 1, 2, 3}, nil, ErrShortMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadFrame(bytes.NewReader(tc.in), nil)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.err == nil && !bytes.Equal(got, tc.want) {
				t.Fatalf("got %x, want %x", got, tc.want)
			}
		})
	}
}

func TestFinishPadsAndKeepsSharedAnswerIntact(t *testing.T) {
	for _, tc := range []struct {
		name      string
		pad       bool
		keepalive bool
	}{
		{"plain", false, false},
		{"padded", true, false},
		{"keepalive", false, true},
		{"both", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := new(dns.Msg)
			q.SetQuestion("www.example.org.", dns.TypeA)
			q.Id = 77
			q.SetEdns0(1232, true)
			if tc.pad {
				q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_PADDING{Padding: make([]byte, 60)})
			}
			if tc.keepalive {
				q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE})
			}
			shared := new(dns.Msg)
			shared.SetReply(q)
			shared.Id = 9
			shared.SetEdns0(1232, true)
			shared.IsEdns0().Option = append(shared.IsEdns0().Option, &dns.EDNS0_TCP_KEEPALIVE{Code: dns.EDNS0TCPKEEPALIVE, Timeout: 999})
			before := shared.String()

			out := Finish(q, shared, 50)
			if shared.String() != before {
				t.Fatal("Finish modified the handler's answer")
			}
			wire, err := Pack(out, nil)
			if err != nil {
				t.Fatal(err)
			}
			wire = wire[2:]
			if padded := len(wire)%PadBlock == 0; padded != tc.pad {
				t.Fatalf("answer of %d bytes, query padded=%v", len(wire), tc.pad)
			}
			var m dns.Msg
			if err := m.Unpack(wire); err != nil {
				t.Fatal(err)
			}
			if m.Id != 77 {
				t.Fatalf("id %d", m.Id)
			}
			var ka []uint16
			for _, o := range m.IsEdns0().Option {
				if k, ok := o.(*dns.EDNS0_TCP_KEEPALIVE); ok {
					ka = append(ka, k.Timeout)
				}
			}
			if tc.keepalive && (len(ka) != 1 || ka[0] != 50) || !tc.keepalive && len(ka) != 0 {
				t.Fatalf("keepalive options %v", ka)
			}
		})
	}
}

// FuzzReadFrame feeds arbitrary byte streams to the framing reader and the
// query parser as the DoT read loop does: no panics, lengths consistent.
func FuzzReadFrame(f *testing.F) {
	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	packed, _ := q.Pack()
	framed, _ := AppendFrame(nil, packed)
	f.Add(framed)
	f.Add([]byte{0, 0})
	f.Add([]byte{0, 13, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := bytes.NewReader(in)
		var buf []byte
		for {
			raw, err := ReadFrame(r, buf)
			if errors.Is(err, ErrShortMessage) {
				if len(raw) >= headerSize {
					t.Fatalf("short message of %d bytes", len(raw))
				}
				return
			}
			if err != nil {
				return
			}
			if m, err := Parse(raw); err == nil {
				if m.Response {
					t.Fatal("a response parsed as a query")
				}
			} else if r := resolver.MalformedReply(raw); r != nil && r.Rcode != dns.RcodeFormatError {
				t.Fatal("malformed query answered without FORMERR")
			}
			buf = raw[:0]
		}
	})
}

// TestMetricsShareRegistry: DoT and DoQ register the same collectors on one
// registry next to the resolver's without conflict.
func TestMetricsShareRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	resolver.NewMetrics(reg)
	a, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	a.Connections.WithLabelValues("dot", "open").Inc()
	b.Connections.WithLabelValues("doq", "open").Inc()
	if n := testutil.CollectAndCount(a.Connections); n != 2 {
		t.Fatalf("%d series, want 2 in one shared collector", n)
	}
}
