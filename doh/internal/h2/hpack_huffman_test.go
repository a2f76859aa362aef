package h2

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// hhBits packs a string of '0' and '1' (spaces ignored), a whole number of
// bytes, into bytes.
func hhBits(t testing.TB, s string) []byte {
	t.Helper()
	s = strings.ReplaceAll(s, " ", "")
	if len(s)%8 != 0 {
		t.Fatalf("%d bits, not whole bytes", len(s))
	}
	b := make([]byte, len(s)/8)
	for i, c := range s {
		if c == '1' {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	return b
}

// hhXnet decodes src as x/net's hpack.Decoder does when a literal field's
// value is src, with string length bound maxLen (0: none).
func hhXnet(src []byte, maxLen int) (string, error) {
	block := []byte{0x00, 0x01, 'a'} // literal without indexing, new name "a"
	if n := len(src); n < 127 {
		block = append(block, 0x80|byte(n))
	} else {
		block = append(block, 0xff)
		for n -= 127; n >= 128; n >>= 7 {
			block = append(block, 0x80|byte(n))
		}
		block = append(block, byte(n))
	}
	block = append(block, src...)
	var v string
	d := hpack.NewDecoder(4096, func(hf hpack.HeaderField) { v = hf.Value })
	d.SetMaxStringLength(maxLen)
	if _, err := d.Write(block); err != nil {
		return "", err
	}
	return v, d.Close()
}

// hhErrKind names err as far as the tests compare errors.
func hhErrKind(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, hpack.ErrInvalidHuffman):
		return "invalid"
	case errors.Is(err, hpack.ErrStringLength):
		return "length"
	}
	return err.Error()
}

// TestHuffmanDecode decodes the RFC 7541 examples and strings with valid
// and invalid padding, EOS and a bound on the length, checking x/net
// decodes them alike.
func TestHuffmanDecode(t *testing.T) {
	zeros := func(m int) string { return strings.Repeat("00000 ", m) } // m × "0", a 5-bit code
	eos := strings.Repeat("1", 30)
	rfc := func(hex string) []byte { return hdHex(t, hex) }
	cases := []struct {
		name   string
		src    []byte
		maxLen int
		want   string
		err    error
	}{
		// RFC 7541 C.4 and C.6.
		{"C.4.1", rfc("f1e3 c2e5 f23a 6ba0 ab90 f4ff"), 0, "www.example.com", nil},
		{"C.4.2", rfc("a8eb 1064 9cbf"), 0, "no-cache", nil},
		{"C.4.3 name", rfc("25a8 49e9 5ba9 7d7f"), 0, "custom-key", nil},
		{"C.4.3 value", rfc("25a8 49e9 5bb8 e8b4 bf"), 0, "custom-value", nil},
		{"C.6.1 status", rfc("6402"), 0, "302", nil},
		{"C.6.1 cache-control", rfc("aec3 771a 4b"), 0, "private", nil},
		{"C.6.1 date", rfc("d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"), 0, "Mon, 21 Oct 2013 20:13:21 GMT", nil},
		{"C.6.1 location", rfc("9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3"), 0, "https://www.example.com", nil},
		{"C.6.2 status", rfc("640e ff"), 0, "307", nil},
		{"C.6.3 date", rfc("d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff"), 0, "Mon, 21 Oct 2013 20:13:22 GMT", nil},
		{"C.6.3 content-encoding", rfc("9bd9 ab"), 0, "gzip", nil},
		{"C.6.3 set-cookie", rfc("94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07"),
			0, "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1", nil},
		{"empty", nil, 0, "", nil},

		// Padding (§5.2): m 5-bit codes leave 8-5m%8 bits.
		{"padding 1", hhBits(t, zeros(3)+"1"), 0, "000", nil},
		{"padding 2", hhBits(t, zeros(6)+"11"), 0, "000000", nil},
		{"padding 3", hhBits(t, zeros(1)+"111"), 0, "0", nil},
		{"padding 4", hhBits(t, zeros(4)+"1111"), 0, "0000", nil},
		{"padding 5", hhBits(t, zeros(7)+"11111"), 0, "0000000", nil},
		{"padding 6", hhBits(t, zeros(2)+"111111"), 0, "00", nil},
		{"padding 7", hhBits(t, zeros(5)+"1111111"), 0, "00000", nil},
		{"padding 8", hhBits(t, zeros(8)+"11111111"), 0, "", hpack.ErrInvalidHuffman},
		{"padding 8 alone", hhBits(t, "11111111"), 0, "", hpack.ErrInvalidHuffman},
		{"padding 11", hhBits(t, zeros(1)+"111 11111111"), 0, "", hpack.ErrInvalidHuffman},
		{"padding 011", hhBits(t, zeros(1)+"011"), 0, "", hpack.ErrInvalidHuffman},
		{"padding 110", hhBits(t, zeros(1)+"110"), 0, "", hpack.ErrInvalidHuffman},
		{"padding 1111110", hhBits(t, zeros(5)+"1111110"), 0, "", hpack.ErrInvalidHuffman},
		{"code cut", hhBits(t, "11111110"), 0, "", hpack.ErrInvalidHuffman}, // '!' is 1111111000

		// EOS (30 ones) is an error wherever it is.
		{"EOS", hhBits(t, eos+"11"), 0, "", hpack.ErrInvalidHuffman},
		{"EOS after 0", hhBits(t, zeros(1)+eos+"11111"), 0, "", hpack.ErrInvalidHuffman},
		{"EOS then 0", hhBits(t, eos+zeros(2)), 0, "", hpack.ErrInvalidHuffman},
		{"EOS inside", hhBits(t, zeros(2)+eos+zeros(4)+"1111"), 0, "", hpack.ErrInvalidHuffman},

		// maxLen: 16 5-bit codes fill 10 bytes.
		{"maxLen equal", hhBits(t, zeros(16)), 16, strings.Repeat("0", 16), nil},
		{"maxLen over", hhBits(t, zeros(16)), 15, "", hpack.ErrStringLength},
		{"maxLen 1", hhBits(t, zeros(16)), 1, "", hpack.ErrStringLength},
		{"maxLen negative", hhBits(t, zeros(16)), -1, strings.Repeat("0", 16), nil},
		{"maxLen before EOS", hhBits(t, zeros(16)+eos+"11"), 15, "", hpack.ErrStringLength},
		{"maxLen then EOS", hhBits(t, zeros(16)+eos+"11"), 16, "", hpack.ErrInvalidHuffman},
		{"maxLen before bad padding", hhBits(t, zeros(16)+"11111111"), 15, "", hpack.ErrStringLength},
		{"maxLen then bad padding", hhBits(t, zeros(16)+"11111111"), 16, "", hpack.ErrInvalidHuffman},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dst := []byte("prefix")
			got, err := huffmanDecode(dst, c.src, c.maxLen)
			if hhErrKind(err) != hhErrKind(c.err) {
				t.Fatalf("error %v, want %v", err, c.err)
			}
			want := "prefix" + c.want
			if string(got) != want {
				t.Errorf("got %q, want %q", got, want)
			}
			// x/net agrees, with maxLen where its Decoder can have it
			// (an encoded length at most maxLen).
			if c.maxLen > 0 && len(c.src) > c.maxLen {
				return
			}
			xv, xerr := hhXnet(c.src, max(c.maxLen, 0))
			if hhErrKind(xerr) != hhErrKind(c.err) || xv != c.want {
				t.Errorf("x/net: %q, %v", xv, xerr)
			}
		})
	}
}

// TestHuffmanDecodeBytes decodes each byte alone, all of them together,
// and checks the machine has the 256 internal nodes of a complete tree.
func TestHuffmanDecodeBytes(t *testing.T) {
	var all []byte
	for c := range 256 {
		all = append(all, byte(c))
		enc := hpack.AppendHuffmanString(nil, string([]byte{byte(c)}))
		if got, err := huffmanDecode(nil, enc, 1); err != nil || !bytes.Equal(got, []byte{byte(c)}) {
			t.Errorf("byte %#x (%x): %x, %v", c, enc, got, err)
		}
	}
	enc := hpack.AppendHuffmanString(nil, string(all))
	if got, err := huffmanDecode(nil, enc, 256); err != nil || !bytes.Equal(got, all) {
		t.Errorf("bytes 0..255: %x, %v", got, err)
	}
	if _, err := huffmanDecode(nil, enc, 255); err != hpack.ErrStringLength {
		t.Errorf("bytes 0..255, maxLen 255: %v", err)
	}
}

// TestHuffmanDecodeAllocs checks decoding into a buffer large enough does
// not allocate.
func TestHuffmanDecodeAllocs(t *testing.T) {
	enc := hpack.AppendHuffmanString(nil, hdTestPath)
	buf := make([]byte, 0, 128)
	if n := testing.AllocsPerRun(100, func() { buf, _ = huffmanDecode(buf[:0], enc, 0) }); n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}

// FuzzHuffmanDecode checks huffmanDecode against x/net on arbitrary input
// (the same bytes or the same kind of error; with maxLen, through x/net's
// Decoder where it can have it) and that it decodes what x/net encodes.
func FuzzHuffmanDecode(f *testing.F) {
	f.Add(hdHex(f, "f1e3 c2e5 f23a 6ba0 ab90 f4ff"), uint16(0))
	f.Add(hdHex(f, "f1e3 c2e5 f23a 6ba0 ab90 f4ff"), uint16(14))
	f.Add(hdHex(f, "0000 0000 00ff ffff ff"), uint16(9))
	f.Add(hpack.AppendHuffmanString(nil, hdTestPath), uint16(64))
	f.Add([]byte{0xff, 0xff, 0xff, 0xfe}, uint16(0))
	f.Fuzz(func(t *testing.T, src []byte, maxLen uint16) {
		got, err := huffmanDecode([]byte("x"), src, 0)
		var want bytes.Buffer
		_, xerr := hpack.HuffmanDecode(&want, src)
		if hhErrKind(err) != hhErrKind(xerr) || err == nil && string(got[1:]) != want.String() {
			t.Fatalf("%x: %q, %v; x/net %q, %v", src, got, err, want.Bytes(), xerr)
		}
		if err != nil && string(got) != "x" {
			t.Fatalf("%x: %q on error", src, got)
		}
		if maxLen > 0 && len(src) <= int(maxLen) {
			got, err := huffmanDecode(nil, src, int(maxLen))
			xv, xerr := hhXnet(src, int(maxLen))
			if hhErrKind(err) != hhErrKind(xerr) || err == nil && string(got) != xv {
				t.Fatalf("%x, maxLen %d: %q, %v; x/net %q, %v", src, maxLen, got, err, xv, xerr)
			}
		}
		enc := hpack.AppendHuffmanString(nil, string(src))
		if got, err := huffmanDecode(nil, enc, len(src)); err != nil || !bytes.Equal(got, src) {
			t.Fatalf("%x encoded %x: %x, %v", src, enc, got, err)
		}
	})
}

// hhSink keeps the benchmark's strings from being optimized away.
var hhSink string

// BenchmarkHuffmanDecode decodes a DoH GET's Huffman-coded :path (46
// bytes: a 23-byte query for n1.io): into a reused buffer, into a string
// as hpackDecoder does, and with x/net.
func BenchmarkHuffmanDecode(b *testing.B) {
	query := []byte{0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 'n', '1', 2, 'i', 'o', 0, 0, 1, 0, 1}
	path := "/dns-query?dns=" + base64.RawURLEncoding.EncodeToString(query)
	if len(path) != 46 {
		b.Fatalf("path %q has %d bytes", path, len(path))
	}
	enc := hpack.AppendHuffmanString(nil, path)
	b.Run("dnsward", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = huffmanDecode(buf[:0], enc, 0); err != nil || string(buf) != path {
				b.Fatal(string(buf), err)
			}
		}
	})
	b.Run("dnsward-string", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if buf, err = huffmanDecode(buf[:0], enc, 0); err != nil {
				b.Fatal(err)
			}
			if hhSink = string(buf); hhSink != path {
				b.Fatal(hhSink)
			}
		}
	})
	b.Run("xnet", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if s, err := hpack.HuffmanDecodeToString(enc); err != nil || s != path {
				b.Fatal(s, err)
			}
		}
	})
}
