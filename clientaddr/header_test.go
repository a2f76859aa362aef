package clientaddr

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func TestHeaderRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		want Header
		size int
	}{
		{"ipv4", Header{Proxy, netip.MustParseAddrPort("192.0.2.7:1234"), netip.MustParseAddrPort("198.51.100.1:443")},
			Header{Proxy, netip.MustParseAddrPort("192.0.2.7:1234"), netip.MustParseAddrPort("198.51.100.1:443")}, 28},
		{"ipv6", Header{Proxy, netip.MustParseAddrPort("[2001:db8::7]:53"), netip.MustParseAddrPort("[2001:db8::1]:853")},
			Header{Proxy, netip.MustParseAddrPort("[2001:db8::7]:53"), netip.MustParseAddrPort("[2001:db8::1]:853")}, 52},
		{"mixed families as ipv6", Header{Proxy, netip.MustParseAddrPort("192.0.2.7:9"), netip.MustParseAddrPort("[2001:db8::1]:853")},
			Header{Proxy, netip.MustParseAddrPort("192.0.2.7:9"), netip.MustParseAddrPort("[2001:db8::1]:853")}, 52},
		{"local", Header{Command: Local}, Header{Command: Local}, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.h.AppendBinary(nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != tt.size {
				t.Fatalf("encoded %d bytes, want %d", len(b), tt.size)
			}
			r := bytes.NewReader(append(b, "rest"...))
			got, err := ReadHeader(r)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if r.Len() != 4 {
				t.Fatalf("ReadHeader consumed %d bytes past the header", 4-r.Len())
			}
		})
	}
}

func TestReadHeaderErrors(t *testing.T) {
	valid, err := Header{Proxy, netip.MustParseAddrPort("192.0.2.7:1"), netip.MustParseAddrPort("192.0.2.8:2")}.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	tests := []struct {
		name  string
		input []byte
		is    error
	}{
		{"empty", nil, nil},
		{"tls client hello", []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03abcdefgh"), ErrNoSignature},
		{"v1 text", []byte("PROXY TCP4 192.0.2.7 192.0.2.8 1 2\r\n"), ErrNoSignature},
		{"version 1 byte", mutate(func(b []byte) []byte { b[12] = 0x11; return b }), nil},
		{"unknown command", mutate(func(b []byte) []byte { b[12] = 0x2f; return b }), nil},
		{"unknown family", mutate(func(b []byte) []byte { b[13] = 0x91; return b }), nil},
		{"unknown transport", mutate(func(b []byte) []byte { b[13] = 0x13; return b }), nil},
		{"short addresses", mutate(func(b []byte) []byte { b[15] = 8; return b[:24] }), nil},
		{"truncated body", valid[:20], nil},
		{"oversized length", mutate(func(b []byte) []byte { b[14], b[15] = 0xff, 0xff; return b }), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadHeader(bytes.NewReader(tt.input))
			if err == nil {
				t.Fatal("accepted a bad header")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error %v, want %v", err, tt.is)
			}
		})
	}
}

func TestHeaderTLVsSkipped(t *testing.T) {
	b, err := Header{Proxy, netip.MustParseAddrPort("192.0.2.7:1"), netip.MustParseAddrPort("192.0.2.8:2")}.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	tlv := []byte{0x04, 0x00, 0x03, 'a', 'b', 'c'} // PP2_TYPE_NOOP
	b[15] += byte(len(tlv))
	b = append(b, tlv...)
	r := bytes.NewReader(append(b, "rest"...))
	h, err := ReadHeader(r)
	if err != nil {
		t.Fatal(err)
	}
	if h.Source != netip.MustParseAddrPort("192.0.2.7:1") {
		t.Fatalf("source %v", h.Source)
	}
	if rest, _ := io.ReadAll(r); string(rest) != "rest" {
		t.Fatalf("after the header: %q, want the TLVs consumed and \"rest\" left", rest)
	}
}

func FuzzReadHeader(f *testing.F) {
	for _, h := range []Header{
		{Command: Local},
		{Proxy, netip.MustParseAddrPort("192.0.2.7:1234"), netip.MustParseAddrPort("198.51.100.1:443")},
		{Proxy, netip.MustParseAddrPort("[2001:db8::7]:53"), netip.MustParseAddrPort("[2001:db8::1]:853")},
	} {
		b, err := h.AppendBinary(nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ReadHeader(bytes.NewReader(b))
		if err != nil || h.Command != Proxy || !h.Source.IsValid() {
			return
		}
		// A header that parsed re-encodes to one that parses the same.
		enc, err := h.AppendBinary(nil)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ReadHeader(bytes.NewReader(enc))
		if err != nil || again != h {
			t.Fatalf("re-encoded %+v read back as %+v, %v", h, again, err)
		}
	})
}

// TestReadHeaderErrorsNameNoAddress: a failed header read, which reaches log
// lines, keeps its kind (timeout, early end) but not the socket's addresses
// a net error's text carries.
func TestReadHeaderErrorsNameNoAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write(signature[:5]) // then silence: the reader times out
			time.Sleep(2 * time.Second)
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = ReadHeader(c)
	if !errors.Is(err, os.ErrDeadlineExceeded) || strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("timed-out read: %v; want a deadline error without addresses", err)
	}
	_, err = ReadHeader(strings.NewReader(string(signature[:7])))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short header: %v; want io.ErrUnexpectedEOF", err)
	}
}
