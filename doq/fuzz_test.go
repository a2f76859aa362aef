package doq

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
	"testing/iotest"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/frontend"
)

// FuzzReadQuery feeds arbitrary stream contents to the DoQ stream reader: it
// never panics, what it accepts is exactly one frame with ID 0, and the
// verdict does not depend on how the stream hands out its bytes (all at once
// with the FIN as quic-go does, one byte at a time, or with a separate EOF).
func FuzzReadQuery(f *testing.F) {
	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	q.Id = 0
	frame, _ := frontend.Pack(q, nil)
	f.Add(frame)
	f.Add(append(frame, 0))
	f.Add([]byte{0, 0})
	f.Add(append([]byte{2, 0}, make([]byte, 512)...)) // longer than the first buffer
	f.Fuzz(func(t *testing.T, in []byte) {
		raw, err := readQuery(iotest.DataErrReader(bytes.NewReader(in)), nil)
		for _, r := range []io.Reader{bytes.NewReader(in), iotest.OneByteReader(bytes.NewReader(in))} {
			raw2, err2 := readQuery(r, make([]byte, 0, 3))
			if (err == nil) != (err2 == nil) || !bytes.Equal(raw, raw2) {
				t.Fatalf("%x: %x, %v with the FIN in the last read; %x, %v otherwise", in, raw, err, raw2, err2)
			}
		}
		if err != nil {
			return
		}
		if len(in) != 2+len(raw) || int(binary.BigEndian.Uint16(in)) != len(raw) || binary.BigEndian.Uint16(raw) != 0 {
			t.Fatalf("accepted %x as %x", in, raw)
		}
	})
}
