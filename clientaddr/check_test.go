package clientaddr

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
)

// datagram returns h encoded as dnsdist sends it over UDP (transport
// DGRAM) in front of payload.
func datagram(t testing.TB, h Header, payload string) []byte {
	t.Helper()
	b, err := h.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.Command == Proxy {
		b[13] = b[13]&0xf0 | udpDgram
	}
	return append(b, payload...)
}

func TestDatagramAndStream(t *testing.T) {
	proxy, other := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("192.0.2.99")
	trusted := Trusted{netip.MustParsePrefix("127.0.0.0/8")}
	client := netip.MustParseAddrPort("192.0.2.7:5300")
	dest := netip.MustParseAddrPort("198.51.100.1:53")
	hdr := datagram(t, Header{Proxy, client, dest}, "query")
	tests := []struct {
		name    string
		peer    netip.Addr
		b       []byte
		want    Header
		payload string
		err     error // nil, or what errors.Is must match; errAny: any error
	}{
		{"trusted proxy", proxy, hdr, Header{Proxy, client, dest}, "query", nil},
		{"trusted health check (LOCAL)", proxy, datagram(t, Header{Command: Local}, "query"), Header{Command: Local}, "query", nil},
		{"trusted without header", proxy, []byte("a plain DNS query, not a header"), Header{}, "", ErrNoSignature},
		{"trusted, header cut short", proxy, hdr[:20], Header{}, "", errAny},
		{"trusted, signature only", proxy, hdr[:12], Header{}, "", errAny},
		{"trusted, unknown version", proxy, append([]byte(string(hdr[:12])+"\x31"), hdr[13:]...), Header{}, "", errAny},
		{"untrusted plain query", other, []byte("plain dns query"), Header{}, "plain dns query", nil},
		{"untrusted starting with CR", other, []byte("\r\nnot a header"), Header{}, "\r\nnot a header", nil},
		{"untrusted header", other, hdr, Header{}, "", ErrUntrusted},
		{"untrusted signature only", other, hdr[:12], Header{}, "", ErrUntrusted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(via string, got Header, payload string, err error) {
				t.Helper()
				switch {
				case tt.err == errAny && err != nil:
					return
				case tt.err != nil && tt.err != errAny:
					if !errors.Is(err, tt.err) {
						t.Fatalf("%s: error %v, want %v", via, err, tt.err)
					}
					return
				case err != nil || tt.err != nil:
					t.Fatalf("%s: error %v, want %v", via, err, tt.err)
				}
				if got != tt.want || payload != tt.payload {
					t.Fatalf("%s: %+v %q, want %+v %q", via, got, payload, tt.want, tt.payload)
				}
			}
			h, p, err := trusted.Datagram(tt.peer, tt.b)
			check("Datagram", h, string(p), err)
			br := bufio.NewReader(bytes.NewReader(tt.b))
			h, err = trusted.Stream(tt.peer, br)
			rest, _ := io.ReadAll(br)
			check("Stream", h, string(rest), err)
		})
	}
}

// errAny stands for any error in TestDatagramAndStream.
var errAny = errors.New("any error")

// FuzzDatagram: the datagram parser never panics, agrees with the stream
// parser on every input, and an untrusted peer never gets a header through.
func FuzzDatagram(f *testing.F) {
	f.Add(datagram(f, Header{Proxy, netip.MustParseAddrPort("192.0.2.7:1234"), netip.MustParseAddrPort("198.51.100.1:53")}, "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"))
	f.Add(datagram(f, Header{Proxy, netip.MustParseAddrPort("[2001:db8::7]:53"), netip.MustParseAddrPort("[2001:db8::1]:53")}, "q"))
	f.Add(datagram(f, Header{Command: Local}, ""))
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x12\xff\xff"))
	f.Add([]byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"))
	trusted := Trusted{netip.MustParsePrefix("127.0.0.0/8")}
	proxy, other := netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("192.0.2.1")
	f.Fuzz(func(t *testing.T, b []byte) {
		h, payload, err := trusted.Datagram(proxy, b)
		sh, serr := ReadHeader(bytes.NewReader(b))
		if (err == nil) != (serr == nil) {
			t.Fatalf("datagram error %v, stream error %v", err, serr)
		}
		if err == nil {
			if h != sh {
				t.Fatalf("datagram header %+v, stream header %+v", h, sh)
			}
			if !bytes.HasSuffix(b, payload) || len(payload) > len(b)-fixedLen {
				t.Fatalf("payload %q is not what follows a header in %q", payload, b)
			}
		}
		h, payload, err = trusted.Datagram(other, b)
		if err == nil && (h != Header{} || !bytes.Equal(payload, b)) {
			t.Fatalf("untrusted datagram gave %+v %q", h, payload)
		}
		if err == nil && strings.HasPrefix(string(b), string(signature)) {
			t.Fatal("untrusted datagram with a signature passed")
		}
	})
}
