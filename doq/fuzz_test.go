package doq

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/dnsward/dnsward/dot/framing"
	"github.com/miekg/dns"
)

// FuzzReadQuery feeds arbitrary stream contents to the DoQ stream reader: it
// never panics, and what it accepts is exactly one frame with ID 0.
func FuzzReadQuery(f *testing.F) {
	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	q.Id = 0
	frame, _ := framing.Pack(q, nil)
	f.Add(frame)
	f.Add(append(frame, 0))
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		raw, err := readQuery(bytes.NewReader(in), nil)
		if err != nil {
			return
		}
		if len(in) != 2+len(raw) || int(binary.BigEndian.Uint16(in)) != len(raw) || binary.BigEndian.Uint16(raw) != 0 {
			t.Fatalf("accepted %x as %x", in, raw)
		}
	})
}
