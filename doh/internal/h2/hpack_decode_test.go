package h2

import (
	"encoding/hex"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"
)

// hdFields turns name, value pairs into fields.
func hdFields(kv ...string) []hpack.HeaderField {
	var hfs []hpack.HeaderField
	for i := 0; i+1 < len(kv); i += 2 {
		hfs = append(hfs, hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return hfs
}

// hdHex decodes hex, ignoring white space.
func hdHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hdInt appends integer v with an n-bit prefix after flags (RFC 7541 §5.1).
func hdInt(dst []byte, flags, n byte, v uint64) []byte {
	max := uint64(1)<<n - 1
	if v < max {
		return append(dst, flags|byte(v))
	}
	dst, v = append(dst, flags|byte(max)), v-max
	for ; v >= 0x80; v >>= 7 {
		dst = append(dst, byte(v)|0x80)
	}
	return append(dst, byte(v))
}

// hdStr appends string literal s (§5.2), Huffman-encoded if huff.
func hdStr(dst []byte, s string, huff bool) []byte {
	if !huff {
		return append(hdInt(dst, 0, 7, uint64(len(s))), s...)
	}
	dst = hdInt(dst, 0x80, 7, hpack.HuffmanEncodeLength(s))
	return hpack.AppendHuffmanString(dst, s)
}

// hdDecodeBlock decodes the fragments of one block with d, collecting
// into *got.
func hdDecodeBlock(d *hpackDecoder, got *[]hpack.HeaderField, frags ...[]byte) ([]hpack.HeaderField, error) {
	*got = (*got)[:0]
	for _, f := range frags {
		if _, err := d.Write(f); err != nil {
			return *got, err
		}
	}
	return *got, d.Close()
}

// hdStep is one header block of a series and what it leaves in the
// dynamic table.
type hdStep struct {
	enc      string
	want     []hpack.HeaderField
	wantDyn  []hpack.HeaderField // newest first
	wantSize uint32
}

// hdRFCSeries are the examples of RFC 7541 Appendix C.
var hdRFCSeries = []struct {
	name      string
	tableSize uint32
	steps     []hdStep
}{
	{"C.2.1", 4096, []hdStep{{"400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
		hdFields("custom-key", "custom-header"), hdFields("custom-key", "custom-header"), 55}}},
	{"C.2.2", 4096, []hdStep{{"040c 2f73 616d 706c 652f 7061 7468",
		hdFields(":path", "/sample/path"), nil, 0}}},
	{"C.2.3", 4096, []hdStep{{"1008 7061 7373 776f 7264 0673 6563 7265 74",
		[]hpack.HeaderField{{Name: "password", Value: "secret", Sensitive: true}}, nil, 0}}},
	{"C.2.4", 4096, []hdStep{{"82", hdFields(":method", "GET"), nil, 0}}},
	{"C.3", 4096, []hdStep{
		{"8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
			hdFields(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "www.example.com"),
			hdFields(":authority", "www.example.com"), 57},
		{"8286 84be 5808 6e6f 2d63 6163 6865",
			hdFields(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "www.example.com", "cache-control", "no-cache"),
			hdFields("cache-control", "no-cache", ":authority", "www.example.com"), 110},
		{"8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
			hdFields(":method", "GET", ":scheme", "https", ":path", "/index.html", ":authority", "www.example.com", "custom-key", "custom-value"),
			hdFields("custom-key", "custom-value", "cache-control", "no-cache", ":authority", "www.example.com"), 164},
	}},
	{"C.4", 4096, []hdStep{
		{"8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
			hdFields(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "www.example.com"),
			hdFields(":authority", "www.example.com"), 57},
		{"8286 84be 5886 a8eb 1064 9cbf",
			hdFields(":method", "GET", ":scheme", "http", ":path", "/", ":authority", "www.example.com", "cache-control", "no-cache"),
			hdFields("cache-control", "no-cache", ":authority", "www.example.com"), 110},
		{"8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
			hdFields(":method", "GET", ":scheme", "https", ":path", "/index.html", ":authority", "www.example.com", "custom-key", "custom-value"),
			hdFields("custom-key", "custom-value", "cache-control", "no-cache", ":authority", "www.example.com"), 164},
	}},
	{"C.5", 256, []hdStep{
		{`4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133
		  2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d`,
			hdFields(":status", "302", "cache-control", "private", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "location", "https://www.example.com"),
			hdFields("location", "https://www.example.com", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "cache-control", "private", ":status", "302"), 222},
		{"4803 3330 37c1 c0bf",
			hdFields(":status", "307", "cache-control", "private", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "location", "https://www.example.com"),
			hdFields(":status", "307", "location", "https://www.example.com", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "cache-control", "private"), 222},
		{`88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d
		  54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049
		  5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31`,
			hdFields(":status", "200", "cache-control", "private", "date", "Mon, 21 Oct 2013 20:13:22 GMT", "location", "https://www.example.com",
				"content-encoding", "gzip", "set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
			hdFields("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1", "content-encoding", "gzip", "date", "Mon, 21 Oct 2013 20:13:22 GMT"), 215},
	}},
	{"C.6", 256, []hdStep{
		{`4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6
		  2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3`,
			hdFields(":status", "302", "cache-control", "private", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "location", "https://www.example.com"),
			hdFields("location", "https://www.example.com", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "cache-control", "private", ":status", "302"), 222},
		{"4883 640e ffc1 c0bf",
			hdFields(":status", "307", "cache-control", "private", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "location", "https://www.example.com"),
			hdFields(":status", "307", "location", "https://www.example.com", "date", "Mon, 21 Oct 2013 20:13:21 GMT", "cache-control", "private"), 222},
		{`88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab
		  77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
		  9587 3160 65c0 03ed 4ee5 b106 3d50 07`,
			hdFields(":status", "200", "cache-control", "private", "date", "Mon, 21 Oct 2013 20:13:22 GMT", "location", "https://www.example.com",
				"content-encoding", "gzip", "set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"),
			hdFields("set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1", "content-encoding", "gzip", "date", "Mon, 21 Oct 2013 20:13:22 GMT"), 215},
	}},
}

// hdDyn lists d's dynamic table, newest first.
func hdDyn(d *hpackDecoder) []hpack.HeaderField {
	var hfs []hpack.HeaderField
	for i := uint64(1); ; i++ {
		hf := d.dyn.at(i)
		if hf == nil {
			return hfs
		}
		hfs = append(hfs, *hf)
	}
}

// TestHPACKRFCExamples decodes Appendix C whole, split in two at every
// offset, and one byte per Write, checking the fields and the table.
func TestHPACKRFCExamples(t *testing.T) {
	for _, s := range hdRFCSeries {
		for j, step := range s.steps {
			enc := hdHex(t, step.enc)
			splits := [][][]byte{{enc}}
			for k := range enc {
				splits = append(splits, [][]byte{enc[:k], enc[k:]})
			}
			var bytewise [][]byte
			for k := range enc {
				bytewise = append(bytewise, enc[k:k+1])
			}
			for _, frags := range append(splits, bytewise) {
				var got []hpack.HeaderField
				d := newHPACKDecoder(s.tableSize, func(hf hpack.HeaderField) { got = append(got, hf) })
				for _, prev := range s.steps[:j] {
					if _, err := hdDecodeBlock(d, &got, hdHex(t, prev.enc)); err != nil {
						t.Fatalf("%s step %d: %v", s.name, j, err)
					}
				}
				hfs, err := hdDecodeBlock(d, &got, frags...)
				if err != nil {
					t.Fatalf("%s step %d, %d fragments: %v", s.name, j, len(frags), err)
				}
				if !slices.Equal(hfs, step.want) {
					t.Fatalf("%s step %d, %d fragments: got %v, want %v", s.name, j, len(frags), hfs, step.want)
				}
				if dyn := hdDyn(d); !slices.Equal(dyn, step.wantDyn) || d.dyn.size != step.wantSize {
					t.Fatalf("%s step %d: table %v size %d, want %v size %d", s.name, j, dyn, d.dyn.size, step.wantDyn, step.wantSize)
				}
			}
		}
	}
}

// TestHPACKStaticTable checks every static entry against x/net's.
func TestHPACKStaticTable(t *testing.T) {
	for i := 1; i <= len(hpackStatic); i++ {
		want, err := hpack.NewDecoder(4096, nil).DecodeFull([]byte{0x80 | byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		var got []hpack.HeaderField
		d := newHPACKDecoder(4096, func(hf hpack.HeaderField) { got = append(got, hf) })
		if _, err := hdDecodeBlock(d, &got, []byte{0x80 | byte(i)}); err != nil || !slices.Equal(got, want) {
			t.Errorf("index %d: got %v, %v; want %v", i, got, err, want)
		}
	}
}

// TestHPACKErrors runs blocks in sequence on one decoder: all but the last
// must decode, the last must fail (or, with ok, decode) as x/net's does.
func TestHPACKErrors(t *testing.T) {
	huff := func(s string) string { return hex.EncodeToString(hdStr(nil, s, true)) }
	const len200 = "7fc9 8080 8080 8080 8000" // 200, padded to 10 bytes
	long := "00" + len200 + strings.Repeat("61", 200) + len200 + strings.Repeat("61", 199)
	cases := []struct {
		name      string
		maxStr    int
		emitOff   bool // emit disabled for the last block
		blocks    []string
		ok        bool
		table     bool // check wantTable
		wantTable []hpack.HeaderField
	}{
		{name: "index 0", blocks: []string{"80"}},
		{name: "index past static", blocks: []string{"be"}},
		{name: "index past dynamic", blocks: []string{"4001 6101 62", "bf"}},
		{name: "dynamic index", blocks: []string{"4001 6101 62", "be"}, ok: true},
		{name: "literal name index 0 is a new name", blocks: []string{"0001 6101 62"}, ok: true},
		{name: "literal name index past end", blocks: []string{"7f00 0161"}},
		{name: "varint overflow", blocks: []string{"ff ffff ffff ffff ffff ff01"}},
		{name: "varint longest accepted", blocks: []string{"0f80 8080 8080 8080 8000 0161"}, ok: true},
		{name: "name too long", maxStr: 4, blocks: []string{"0005 6161 6161 6101 62"}},
		{name: "value too long", maxStr: 4, blocks: []string{"0f06 0561 6161 6161"}},
		{name: "value at max length", maxStr: 4, blocks: []string{"0f06 0461 6161 61"}, ok: true},
		{name: "huffman decodes too long", maxStr: 4, blocks: []string{"0f06" + huff("aaaaaa")}},
		{name: "huffman EOS", blocks: []string{"0484 ffff ffff"}},
		{name: "huffman padding over 7 bits", blocks: []string{"0482 1fff"}},
		{name: "huffman padding not ones", blocks: []string{"0481 18"}},
		{name: "huffman valid", blocks: []string{"0481 1f"}, ok: true},
		{name: "invalid huffman not decoded while emit is off", emitOff: true, blocks: []string{"0484 ffff ffff"}, ok: true},
		{name: "invalid huffman indexed while emit is off", emitOff: true, blocks: []string{"4484 ffff ffff"}},
		{name: "table kept while emit is off", emitOff: true, blocks: []string{"4401 61"}, ok: true,
			table: true, wantTable: hdFields(":path", "a")},
		{name: "truncated block", blocks: []string{"4005 61"}},
		{name: "partial field beyond x/net's bound", maxStr: 200, blocks: []string{long}},
		{name: "size update too large", blocks: []string{"3fe2 1f"}},
		{name: "size update to the max", blocks: []string{"3fe1 1f82"}, ok: true},
		{name: "size update after a field", blocks: []string{"4001 6101 6220"}},
		{name: "size update at the next block", blocks: []string{"4001 6101 62", "2082"}, ok: true, table: true},
		{name: "two size updates emptying the table", blocks: []string{"4001 6101 62", "203f e11f"}, ok: true},
		{name: "second size update, table not empty", blocks: []string{"4001 6101 62", "3fe1 1f20"}},
		{name: "size update after a field, table empty (x/net)", blocks: []string{"8220"}, ok: true},
		{name: "size update evicts", blocks: []string{"4001 6101 62", "21"}, ok: true, table: true},
	}
	for _, c := range cases {
		var got []hpack.HeaderField
		d := newHPACKDecoder(4096, func(hf hpack.HeaderField) { got = append(got, hf) })
		d.SetMaxStringLength(c.maxStr)
		var err error
		for i, b := range c.blocks {
			d.SetEmitEnabled(!c.emitOff || i < len(c.blocks)-1)
			if _, err = hdDecodeBlock(d, &got, hdHex(t, b)); err != nil && i < len(c.blocks)-1 {
				t.Fatalf("%s: block %d: %v", c.name, i, err)
			}
		}
		if (err == nil) != c.ok {
			t.Errorf("%s: error %v, want ok=%v", c.name, err, c.ok)
		}
		if c.table && !slices.Equal(hdDyn(d), c.wantTable) {
			t.Errorf("%s: table %v, want %v", c.name, hdDyn(d), c.wantTable)
		}
	}
}

const hdTestPath = "/dns-query?dns=AAABAAABAAAAAAAAAm4xBWJlbmNoB2V4YW1wbGUAAAEAAQ"

// hdNghttp2Blocks returns a connection's first request block as nghttp2
// (h2load) encodes it, and the block of each request after it: :authority,
// accept and user-agent indexed, :path a Huffman literal never indexed.
func hdNghttp2Blocks() (first, next []byte) {
	path := hdStr([]byte{0x04}, hdTestPath, true) // without indexing, name :path
	first = []byte{0x82, 0x87, 0x41}              // GET, https, :authority with indexing
	first = hdStr(first, "dns.example:443", true)
	first = append(first, path...)
	first = hdStr(append(first, 0x40|19), "application/dns-message", true) // accept
	first = hdStr(append(first, 0x40|58), "h2load nghttp2/1.64.0", true)   // user-agent
	next = append([]byte{0x82, 0x87, 0x80 | 64}, path...)
	next = append(next, 0x80|63, 0x80|62)
	return first, next
}

// TestHPACKNghttp2Allocs checks the decoding of a repeated request block
// allocates nothing.
func TestHPACKNghttp2Allocs(t *testing.T) {
	first, next := hdNghttp2Blocks()
	want := hdFields(":method", "GET", ":scheme", "https", ":authority", "dns.example:443", ":path", hdTestPath,
		"accept", "application/dns-message", "user-agent", "h2load nghttp2/1.64.0")
	got := make([]hpack.HeaderField, 0, 8)
	d := newHPACKDecoder(4096, func(hf hpack.HeaderField) { got = append(got, hf) })
	for _, b := range [][]byte{first, next} {
		if hfs, err := hdDecodeBlock(d, &got, b); err != nil || !slices.Equal(hfs, want) {
			t.Fatalf("got %v, %v; want %v", hfs, err, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = hdDecodeBlock(d, &got, next) }); n != 0 {
		t.Errorf("%v allocations per block, want 0", n)
	}
}

// BenchmarkHPACKDecode decodes the block of an h2load request after the
// first, with this decoder and x/net's.
func BenchmarkHPACKDecode(b *testing.B) {
	first, next := hdNghttp2Blocks()
	b.Run("dnsward", func(b *testing.B) {
		got := make([]hpack.HeaderField, 0, 8)
		d := newHPACKDecoder(4096, func(hf hpack.HeaderField) { got = append(got, hf) })
		_, _ = hdDecodeBlock(d, &got, first)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := hdDecodeBlock(d, &got, next); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("xnet", func(b *testing.B) {
		got := make([]hpack.HeaderField, 0, 8)
		d := hpack.NewDecoder(4096, func(hf hpack.HeaderField) { got = append(got, hf) })
		_, _ = d.Write(first)
		_ = d.Close()
		b.ReportAllocs()
		for b.Loop() {
			got = got[:0]
			if _, err := d.Write(next); err != nil {
				b.Fatal(err)
			}
			if err := d.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// hdFuzzSeed returns blocks as fuzz input: the blocks concatenated, and
// cuts ending each block after fragments of up to 63 bytes.
func hdFuzzSeed(blocks ...[]byte) (data, cuts []byte) {
	for _, b := range blocks {
		data = append(data, b...)
		for ; len(b) > 63; b = b[63:] {
			cuts = append(cuts, 63)
		}
		cuts = append(cuts, 0x80|byte(len(b)))
	}
	return data, cuts
}

// FuzzHPACKDecoder checks this decoder against x/net's: the same fields and
// the same Write and Close calls failing. Each byte of cuts takes a fragment
// of up to 63 bytes of data (low 6 bits), ending the block if its top bit
// is set; what is left after the cuts is the last fragment of the last
// block. emitAfter, when not 0, disables emit after that many fields of a
// block, as headerBlock does past its size bound.
func FuzzHPACKDecoder(f *testing.F) {
	for _, s := range hdRFCSeries {
		var blocks [][]byte
		for _, step := range s.steps {
			blocks = append(blocks, hdHex(f, step.enc))
		}
		data, cuts := hdFuzzSeed(blocks...)
		f.Add(data, cuts, uint16(s.tableSize), uint16(0), uint8(0))
		f.Add(data, cuts, uint16(s.tableSize), uint16(16), uint8(2))
	}
	first, next := hdNghttp2Blocks()
	data, cuts := hdFuzzSeed(first, next, next)
	f.Add(data, cuts, uint16(4096), uint16(1<<14), uint8(0))
	f.Add(data, []byte{5, 0, 17, 0x80 | 40, 3}, uint16(4096), uint16(30), uint8(3))
	f.Add(hdHex(f, "0403 6162 6304 8361 6263"), []byte{0x85}, uint16(4096), uint16(0), uint8(0)) // plain and Huffman "abc" bytes
	f.Fuzz(func(t *testing.T, data, cuts []byte, tableSize, maxStr uint16, emitAfter uint8) {
		var mine, ref []hpack.HeaderField
		var d *hpackDecoder
		var x *hpack.Decoder
		d = newHPACKDecoder(uint32(tableSize), func(hf hpack.HeaderField) {
			if mine = append(mine, hf); len(mine) == int(emitAfter) {
				d.SetEmitEnabled(false)
			}
		})
		x = hpack.NewDecoder(uint32(tableSize), func(hf hpack.HeaderField) {
			if ref = append(ref, hf); len(ref) == int(emitAfter) {
				x.SetEmitEnabled(false)
			}
		})
		d.SetMaxStringLength(int(maxStr))
		x.SetMaxStringLength(int(maxStr))
		// step feeds frag to both, closing the block if end; false once
		// both failed.
		step := func(frag []byte, end bool) bool {
			_, errD := d.Write(frag)
			_, errX := x.Write(frag)
			if errD == nil && errX == nil && end {
				errD, errX = d.Close(), x.Close()
			}
			if (errD == nil) != (errX == nil) || !slices.Equal(mine, ref) {
				t.Fatalf("after %x: error %v, x/net %v\nfields %v\nx/net  %v", frag, errD, errX, mine, ref)
			}
			if end {
				mine, ref = mine[:0], ref[:0]
				d.SetEmitEnabled(true)
				x.SetEmitEnabled(true)
			}
			return errD == nil
		}
		for _, c := range cuts {
			n := min(int(c&0x3f), len(data))
			if !step(data[:n], c&0x80 != 0) {
				return
			}
			data = data[n:]
		}
		step(data, true)
	})
}
