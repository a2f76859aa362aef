package h2

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

// hpackEncOp is one call on the encoder: a status (status > 0) or a field.
type hpackEncOp struct {
	status      int
	name, value string
	index       bool
}

func (op hpackEncOp) want() hpack.HeaderField {
	if op.status > 0 {
		return hpack.HeaderField{Name: ":status", Value: strconv.Itoa(op.status)}
	}
	return hpack.HeaderField{Name: op.name, Value: op.value}
}

// hpackEncBlock encodes one header block.
func hpackEncBlock(e *hpackEncoder, dst []byte, ops []hpackEncOp) []byte {
	dst = e.begin(dst)
	for _, op := range ops {
		if op.status > 0 {
			dst = e.status(dst, op.status)
		} else {
			dst = e.field(dst, op.name, op.value, op.index)
		}
	}
	return dst
}

// hpackEncPeer is the client side: x/net's decoder with the table size the
// client advertised, plus the §4.2 checks on the size updates it receives.
type hpackEncPeer struct {
	dec      *hpack.Decoder
	eager    bool   // shrink the decoder's table at once, not on our update
	allowed  uint32 // SETTINGS_HEADER_TABLE_SIZE advertised last
	lowest   uint32 // the smallest advertised since the last block
	tableMax uint32 // the decoder's table size, as signaled to it
	blocks   int
}

func newHPACKEncPeer(eager bool) *hpackEncPeer {
	return &hpackEncPeer{dec: hpack.NewDecoder(4096, nil), eager: eager, allowed: 4096, lowest: 4096, tableMax: 4096}
}

// setSize advertises n to both sides, as a SETTINGS frame would.
func (p *hpackEncPeer) setSize(e *hpackEncoder, n uint32) {
	e.setPeerTableSize(n)
	p.dec.SetAllowedMaxDynamicTableSize(n)
	p.allowed, p.lowest = n, min(p.lowest, n)
	if p.eager && n < p.tableMax {
		p.dec.SetMaxDynamicTableSize(n)
	}
}

// check decodes block, compares it with ops and checks the encoder's table
// against the decoder's.
func (p *hpackEncPeer) check(e *hpackEncoder, block []byte, ops []hpackEncOp) error {
	p.blocks++
	// Leading Dynamic Table Size Updates (001xxxxx).
	var ups []uint64
	for rest := block; len(rest) > 0 && rest[0]&0xe0 == 0x20; {
		v, n := hpackEncReadInt(rest, 5)
		if n == 0 {
			return fmt.Errorf("truncated size update % x", block)
		}
		ups, rest = append(ups, v), rest[n:]
	}
	if len(ups) > 2 {
		return fmt.Errorf("%d size updates", len(ups))
	}
	if p.lowest < p.tableMax && (len(ups) == 0 || ups[0] > uint64(p.lowest)) {
		return fmt.Errorf("peer lowered its table to %d (in force %d): updates %v", p.lowest, p.tableMax, ups)
	}
	if len(ups) > 0 {
		p.tableMax = uint32(ups[len(ups)-1])
	}
	if p.tableMax > min(p.allowed, hpackEncMaxTable) {
		return fmt.Errorf("table size in force %d, allowed %d", p.tableMax, p.allowed)
	}
	p.lowest = p.allowed

	got, err := p.dec.DecodeFull(block)
	if err != nil {
		return fmt.Errorf("decode % x: %v", block, err)
	}
	if len(got) != len(ops) {
		return fmt.Errorf("decoded %d fields, want %d", len(got), len(ops))
	}
	for i, op := range ops {
		if w := op.want(); got[i].Name != w.Name || got[i].Value != w.Value {
			return fmt.Errorf("field %d: got %q: %q, want %q: %q", i, got[i].Name, got[i].Value, w.Name, w.Value)
		}
	}
	return p.checkTable(e)
}

// checkTable asserts the encoder's dynamic table is the decoder's: the same
// size in force, the same entries in the same order, and nothing beyond.
// Decoding indexed fields leaves the decoder's table as it was.
func (p *hpackEncPeer) checkTable(e *hpackEncoder) error {
	if e.tab.max != p.tableMax {
		return fmt.Errorf("encoder table size %d, decoder's %d", e.tab.max, p.tableMax)
	}
	var sum uint32
	var refs []byte
	for i := range e.tab.n {
		ent := *e.tab.at(uint64(i + 1))
		sum += uint32(len(ent.Name) + len(ent.Value) + 32)
		refs = hpackEncAppendInt(refs, 7, 0x80, uint64(hpackEncDynBase+i))
	}
	if sum != e.tab.size || e.tab.size > e.tab.max {
		return fmt.Errorf("table size %d, entries sum %d, max %d", e.tab.size, sum, e.tab.max)
	}
	if e.tab.n > 0 {
		got, err := p.dec.DecodeFull(refs)
		if err != nil {
			return fmt.Errorf("decoder lacks our entries: %v", err)
		}
		for i, hf := range got {
			ent := *e.tab.at(uint64(i + 1))
			if hf.Name != ent.Name || hf.Value != ent.Value {
				return fmt.Errorf("dynamic index %d: decoder %q: %q, encoder %q: %q", 62+i, hf.Name, hf.Value, ent.Name, ent.Value)
			}
		}
	}
	if _, err := p.dec.DecodeFull(hpackEncAppendInt(nil, 7, 0x80, uint64(hpackEncDynBase+e.tab.n))); err == nil {
		return fmt.Errorf("decoder holds more than our %d entries", e.tab.n)
	}
	_ = p.dec.Close() // the failed decode left firstField unset
	return nil
}

func hpackEncReadInt(p []byte, n uint) (v uint64, used int) {
	lim := uint64(1)<<n - 1
	v = uint64(p[0]) & lim
	if v < lim {
		return v, 1
	}
	for i, shift := 1, uint(0); i < len(p) && shift < 63; i, shift = i+1, shift+7 {
		v += uint64(p[i]&0x7f) << shift
		if p[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return 0, 0
}

var hpackEncEpoch = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func hpackEncDate(sec int) string {
	return hpackEncEpoch.Add(time.Duration(sec) * time.Second).Format(http.TimeFormat)
}

// hpackEncAnswer is the header set of a typical DoH answer.
func hpackEncAnswer(length, maxAge int, date string) []hpackEncOp {
	return []hpackEncOp{
		{status: 200},
		{name: "content-type", value: "application/dns-message", index: true},
		{name: "content-length", value: strconv.Itoa(length)},
		{name: "cache-control", value: "max-age=" + strconv.Itoa(maxAge)},
		{name: "alt-svc", value: `h3=":8443"; ma=86400`, index: true},
		{name: "date", value: date, index: true},
	}
}

func TestHPACKEncoderStatus(t *testing.T) {
	for _, tc := range []struct {
		code int
		want []byte
	}{
		{200, []byte{0x88}},
		{204, []byte{0x89}},
		{206, []byte{0x8a}},
		{304, []byte{0x8b}},
		{400, []byte{0x8c}},
		{404, []byte{0x8d}},
		{500, []byte{0x8e}},
		{405, []byte{0x08, 3, '4', '0', '5'}},
		{413, []byte{0x08, 3, '4', '1', '3'}},
		{415, []byte{0x08, 3, '4', '1', '5'}},
		{429, []byte{0x08, 3, '4', '2', '9'}},
		{502, []byte{0x08, 3, '5', '0', '2'}},
		{100, []byte{0x08, 3, '1', '0', '0'}},
		{999, []byte{0x08, 3, '9', '9', '9'}},
	} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			e, p := newHPACKEncoder(), newHPACKEncPeer(false)
			ops := []hpackEncOp{{status: tc.code}}
			for range 2 { // the same again: status is never indexed
				b := hpackEncBlock(e, nil, ops)
				if !bytes.Equal(b, tc.want) {
					t.Fatalf("status %d: % x, want % x", tc.code, b, tc.want)
				}
				if err := p.check(e, b, ops); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestHPACKEncoderFieldBytes(t *testing.T) {
	ct := hpackEncOp{name: "content-type", value: "application/dns-message", index: true}
	for _, tc := range []struct {
		name   string
		before []hpackEncOp // a block sent first
		op     hpackEncOp
		want   []byte
		n      int // entries after
	}{
		{"content-type first: incremental indexing, static name 31", nil, ct,
			append([]byte{0x40 | 31, 23}, "application/dns-message"...), 1},
		{"content-type again: 1 byte", []hpackEncOp{ct}, ct, []byte{0x80 | 62}, 1},
		{"content-length: without indexing, static name 28", nil,
			hpackEncOp{name: "content-length", value: "123"}, []byte{0x0f, 28 - 15, 3, '1', '2', '3'}, 0},
		{"content-length repeated stays unindexed", []hpackEncOp{{name: "content-length", value: "123"}},
			hpackEncOp{name: "content-length", value: "123"}, []byte{0x0f, 28 - 15, 3, '1', '2', '3'}, 0},
		{"cache-control: static name 24", nil,
			hpackEncOp{name: "cache-control", value: "max-age=9"}, append([]byte{0x0f, 24 - 15, 9}, "max-age=9"...), 0},
		{"alt-svc: literal name", nil,
			hpackEncOp{name: "alt-svc", value: "clear", index: true}, append(append([]byte{0x40, 7}, "alt-svc"...), append([]byte{5}, "clear"...)...), 1},
		{"alt-svc new value: name from the dynamic table", []hpackEncOp{{name: "alt-svc", value: "clear", index: true}},
			hpackEncOp{name: "alt-svc", value: "h3", index: true}, append([]byte{0x40 | 62, 2}, "h3"...), 2},
		{"date: static name 33", nil, hpackEncOp{name: "date", value: "x", index: true}, []byte{0x40 | 33, 1, 'x'}, 1},
		{"vary 59", nil, hpackEncOp{name: "vary", value: "accept", index: true}, append([]byte{0x40 | 59, 6}, "accept"...), 1},
		{"allow 22", nil, hpackEncOp{name: "allow", value: "GET", index: true}, append([]byte{0x40 | 22, 3}, "GET"...), 1},
		{"access-control-allow-origin 20", nil, hpackEncOp{name: "access-control-allow-origin", value: "*", index: true}, []byte{0x40 | 20, 1, '*'}, 1},
		{"x-content-type-options: literal name", nil, hpackEncOp{name: "x-content-type-options", value: "nosniff", index: true},
			append(append([]byte{0x40, 22}, "x-content-type-options"...), append([]byte{7}, "nosniff"...)...), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, p := newHPACKEncoder(), newHPACKEncPeer(false)
			if tc.before != nil {
				b := hpackEncBlock(e, nil, tc.before)
				if err := p.check(e, b, tc.before); err != nil {
					t.Fatal(err)
				}
			}
			b := hpackEncBlock(e, nil, []hpackEncOp{tc.op})
			if !bytes.Equal(b, tc.want) {
				t.Errorf("% x, want % x", b, tc.want)
			}
			if e.tab.n != tc.n {
				t.Errorf("%d entries, want %d", e.tab.n, tc.n)
			}
			if err := p.check(e, b, []hpackEncOp{tc.op}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestHPACKEncoderTwoByteIndex: an entry older than 64 others costs two bytes.
func TestHPACKEncoderTwoByteIndex(t *testing.T) {
	e, p := newHPACKEncoder(), newHPACKEncPeer(false)
	ct := hpackEncOp{name: "content-type", value: "application/dns-message", index: true}
	ops := []hpackEncOp{ct}
	for i := range 65 {
		ops = append(ops, hpackEncOp{name: "x", value: strconv.Itoa(i), index: true})
	}
	b := hpackEncBlock(e, nil, ops)
	if err := p.check(e, b, ops); err != nil {
		t.Fatal(err)
	}
	b = hpackEncBlock(e, nil, []hpackEncOp{ct})
	if want := []byte{0xff, 0}; !bytes.Equal(b, want) { // 62+65 = 127
		t.Fatalf("% x, want % x", b, want)
	}
	if err := p.check(e, b, []hpackEncOp{ct}); err != nil {
		t.Fatal(err)
	}
}

// TestHPACKEncoderDateRun sends many answers whose date changes every few
// responses, so the table evicts over and over; every block must decode,
// and the tables agree after each.
func TestHPACKEncoderDateRun(t *testing.T) {
	for _, tc := range []struct {
		name     string
		every    int // responses per date
		n        int
		peerSize uint32
	}{
		{"date each response", 1, 3000, 4096},
		{"date every 7", 7, 5000, 4096},
		{"peer table 8192", 3, 3000, 8192},
		{"peer table 1000", 3, 2000, 1000},
		{"peer table 200", 2, 2000, 200},
		{"peer table 64", 2, 500, 64},
		{"peer table 0", 1, 300, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, p := newHPACKEncoder(), newHPACKEncPeer(false)
			p.setSize(e, tc.peerSize)
			var buf []byte
			repeats, big := 0, 0
			for i := range tc.n {
				ops := hpackEncAnswer(40+i%300, i%3600, hpackEncDate(i/tc.every))
				buf = hpackEncBlock(e, buf[:0], ops)
				if err := p.check(e, buf, ops); err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
				// Same date as the previous response, table roomy enough for
				// the three repeating fields: each costs one byte, but for
				// when the dates pushed content-type or alt-svc out (FIFO).
				if tc.peerSize >= 4096 && i%tc.every != 0 {
					repeats++
					if want := 1 + 1 + 6 + (3 + len(ops[3].value)) + 1 + 1; len(buf) > want+2 {
						big++
					}
				}
			}
			if big*20 > repeats {
				t.Fatalf("%d of %d blocks repeating the date were not indexed", big, repeats)
			}
			if tc.peerSize >= 100 && (e.tab.n == 0 || e.tab.at(uint64(e.tab.n)).Value == hpackEncDate(0)) {
				t.Fatalf("%d entries, oldest %q: no eviction exercised", e.tab.n, e.tab.at(uint64(e.tab.n)).Value)
			}
		})
	}
}

// TestHPACKEncoderPeerTableSize changes SETTINGS_HEADER_TABLE_SIZE in the
// middle of a run and checks the size updates of the next blocks.
func TestHPACKEncoderPeerTableSize(t *testing.T) {
	type step struct {
		at    int      // before response at
		sizes []uint32 // SETTINGS_HEADER_TABLE_SIZE values received, in order
		want  [][]uint64
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"shrink to 0, grow back", []step{
			{at: 50, sizes: []uint32{0}, want: [][]uint64{{0}, nil}},
			{at: 80, sizes: []uint32{4096}, want: [][]uint64{{4096}, nil}},
		}},
		{"shrink to 100, grow back", []step{
			{at: 50, sizes: []uint32{100}, want: [][]uint64{{100}, nil}},
			{at: 80, sizes: []uint32{4096}, want: [][]uint64{{4096}, nil}},
		}},
		{"shrink to 100 and back between two blocks", []step{
			// the 100-byte table keeps the newest date entry: growth waits a block
			{at: 50, sizes: []uint32{100, 4096}, want: [][]uint64{{100}, {4096}, nil}},
		}},
		{"shrink to 0 and back between two blocks", []step{
			{at: 50, sizes: []uint32{0, 4096}, want: [][]uint64{{0, 4096}, nil}},
		}},
		{"0, 100, 4096 between two blocks", []step{
			{at: 50, sizes: []uint32{0, 100, 4096}, want: [][]uint64{{0, 4096}, nil}},
		}},
		{"100, 0, 200 between two blocks", []step{
			{at: 50, sizes: []uint32{100, 0, 200}, want: [][]uint64{{0, 200}, nil}},
		}},
		{"shrink twice", []step{
			{at: 50, sizes: []uint32{2000}, want: [][]uint64{{2000}, nil}},
			{at: 70, sizes: []uint32{1000, 1500}, want: [][]uint64{{1000}, {1500}, nil}},
			{at: 90, sizes: []uint32{100}, want: [][]uint64{{100}, nil}},
			{at: 120, sizes: []uint32{50000}, want: [][]uint64{{4096}, nil}},
		}},
		{"larger than ours: nothing to signal", []step{
			{at: 0, sizes: []uint32{65536}, want: [][]uint64{nil}},
			{at: 50, sizes: []uint32{8192, 4096, 1 << 31}, want: [][]uint64{nil}},
		}},
		{"same size again", []step{
			{at: 10, sizes: []uint32{4096}, want: [][]uint64{nil}},
		}},
		{"below every entry", []step{
			{at: 50, sizes: []uint32{31}, want: [][]uint64{{31}, nil}},
			{at: 60, sizes: []uint32{32}, want: [][]uint64{{32}, nil}},
			{at: 70, sizes: []uint32{4095}, want: [][]uint64{{4095}, nil}},
		}},
		{"grow from 0 at start", []step{
			{at: 0, sizes: []uint32{0}, want: [][]uint64{{0}, nil}},
			{at: 30, sizes: []uint32{4096}, want: [][]uint64{{4096}, nil}},
		}},
	} {
		for _, eager := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/eager=%v", tc.name, eager), func(t *testing.T) {
				e, p := newHPACKEncoder(), newHPACKEncPeer(eager)
				var buf []byte
				var want [][]uint64 // updates expected in the next blocks
				steps := tc.steps
				for i := range 200 {
					if len(steps) > 0 && steps[0].at == i {
						for _, n := range steps[0].sizes {
							p.setSize(e, n)
						}
						want = steps[0].want
						steps = steps[1:]
					}
					ops := hpackEncAnswer(40+i, i, hpackEncDate(i/3))
					buf = hpackEncBlock(e, buf[:0], ops)
					if len(want) > 0 {
						var ups []uint64
						for rest := buf; rest[0]&0xe0 == 0x20; {
							v, n := hpackEncReadInt(rest, 5)
							ups, rest = append(ups, v), rest[n:]
						}
						if fmt.Sprint(ups) != fmt.Sprint(want[0]) {
							t.Fatalf("response %d: size updates %v, want %v", i, ups, want[0])
						}
						want = want[1:]
					}
					if err := p.check(e, buf, ops); err != nil {
						t.Fatalf("response %d: %v", i, err)
					}
				}
			})
		}
	}
}

// TestHPACKXNetSecondSizeUpdate pins the x/net decoder behaviour that makes
// begin defer a growing update: a second size update in a block is refused
// while the table is not empty.
func TestHPACKXNetSecondSizeUpdate(t *testing.T) {
	for _, tc := range []struct {
		first  uint64
		wantOK bool
	}{{100, false}, {0, true}} {
		dec := hpack.NewDecoder(4096, nil)
		if _, err := dec.DecodeFull([]byte{0x40 | 33, 1, 'x'}); err != nil { // a 37-byte entry
			t.Fatal(err)
		}
		b := hpackEncAppendInt(nil, 5, 0x20, tc.first)
		b = hpackEncAppendInt(b, 5, 0x20, 4096)
		b = append(b, 0x88)
		_, err := dec.DecodeFull(b)
		if (err == nil) != tc.wantOK {
			t.Errorf("updates %d, 4096 with an entry of 37 bytes: err %v, want ok %v", tc.first, err, tc.wantOK)
		}
	}
}

func TestHPACKEncoderOversized(t *testing.T) {
	ct := hpackEncOp{name: "content-type", value: "application/dns-message", index: true}
	for _, tc := range []struct {
		name     string
		peerSize uint32
		value    int  // length of the big value
		stored   bool // the entry fits exactly
	}{
		{"5000 bytes, table 4096", 4096, 5000, false},
		{"one byte over 4096", 4096, 4096 - 32 - 3, false},
		{"exactly 4096", 4096, 4096 - 32 - 4, true},
		{"over a 100-byte table", 100, 65, false},
		{"exactly 100", 100, 64, true},
		{"table 0", 0, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, p := newHPACKEncoder(), newHPACKEncPeer(false)
			p.setSize(e, tc.peerSize)
			ops := []hpackEncOp{ct}
			if tc.peerSize >= 4096 {
				ops = append(ops, hpackEncOp{name: "date", value: "d", index: true})
			}
			b := hpackEncBlock(e, nil, ops)
			if err := p.check(e, b, ops); err != nil {
				t.Fatal(err)
			}
			n0 := e.tab.n
			big := []hpackEncOp{{name: "date", value: strings.Repeat("v", tc.value), index: true}}
			b = hpackEncBlock(e, nil, big)
			if err := p.check(e, b, big); err != nil {
				t.Fatal(err)
			}
			if tc.stored {
				if e.tab.n != 1 || e.tab.size != e.tab.max {
					t.Fatalf("%d entries of %d bytes, want the big one alone in %d", e.tab.n, e.tab.size, e.tab.max)
				}
			} else if e.tab.n != n0 || b[0]&0xf0 != 0 {
				t.Fatalf("oversized: first byte %#x, entries %d -> %d; want a literal without indexing, table kept", b[0], n0, e.tab.n)
			}
			b = hpackEncBlock(e, nil, ops)
			if err := p.check(e, b, ops); err != nil {
				t.Fatal(err)
			}
			if !tc.stored && tc.peerSize >= 100 && len(b) != len(ops) {
				t.Fatalf("table lost its entries: % x", b)
			}
		})
	}
}

// TestHPACKEncoderEvictBoundary inserts entries whose sizes meet the table
// size exactly or pass it by one byte.
func TestHPACKEncoderEvictBoundary(t *testing.T) {
	for _, tc := range []struct {
		table uint32
		sizes []int // §4.1 sizes of the entries inserted, in order
		n     int   // entries left
	}{
		{100, []int{50, 50}, 2},
		{100, []int{50, 51}, 1},
		{100, []int{34, 33, 33}, 3},
		{100, []int{34, 34, 33}, 2},
		{100, []int{34, 33, 33, 34}, 3},
		{100, []int{34, 33, 33, 35}, 2},
		{100, []int{33, 33, 33, 33}, 3},
		{4096, []int{2048, 2048}, 2},
		{4096, []int{2048, 2049}, 1},
		{4096, []int{2048, 2048, 33}, 2},
		{4096, []int{33, 4096}, 1},
	} {
		t.Run(fmt.Sprint(tc.table, tc.sizes), func(t *testing.T) {
			e, p := newHPACKEncoder(), newHPACKEncPeer(false)
			p.setSize(e, tc.table)
			for i, sz := range tc.sizes {
				ops := []hpackEncOp{{name: string(rune('a' + i)), value: strings.Repeat("v", sz-33), index: true}}
				b := hpackEncBlock(e, nil, ops)
				if err := p.check(e, b, ops); err != nil {
					t.Fatal(err)
				}
			}
			if e.tab.n != tc.n {
				t.Fatalf("%d entries, want %d", e.tab.n, tc.n)
			}
		})
	}
}

// TestHPACKEncoderStaticNames checks the name switch against the static
// table as x/net's decoder knows it.
func TestHPACKEncoderStaticNames(t *testing.T) {
	requestOnly := map[string]bool{
		"accept-charset": true, "accept-encoding": true, "accept-language": true, "accept": true,
		"authorization": true, "cookie": true, "expect": true, "from": true, "host": true,
		"if-match": true, "if-modified-since": true, "if-none-match": true, "if-range": true,
		"if-unmodified-since": true, "max-forwards": true, "proxy-authorization": true,
		"range": true, "referer": true, "transfer-encoding": true, "user-agent": true,
	}
	dec := hpack.NewDecoder(4096, nil)
	for i := 1; i <= 61; i++ {
		hf, err := dec.DecodeFull([]byte{0x80 | byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		name := hf[0].Name
		got := hpackEncStaticName(name)
		switch {
		case got != 0 && got != i:
			t.Errorf("%s: %d, static table %d", name, got, i)
		case got == 0 && i >= 15 && !requestOnly[name]:
			t.Errorf("%s (%d) missing", name, i)
		case got != 0 && (i < 15 || requestOnly[name]):
			t.Errorf("%s (%d) is not a response header", name, i)
		}
	}
	for _, name := range []string{"alt-svc", "x-content-type-options", "Content-Type", ""} {
		if got := hpackEncStaticName(name); got != 0 {
			t.Errorf("%q: %d", name, got)
		}
	}
}

func TestHPACKEncoderAllocs(t *testing.T) {
	e := newHPACKEncoder()
	dates := []string{hpackEncDate(0), hpackEncDate(1), hpackEncDate(2)}
	lengths := []string{"54", "71", "128", "300"}
	buf := make([]byte, 0, 512)
	i := 0
	encode := func() {
		buf = e.begin(buf[:0])
		buf = e.status(buf, 200)
		buf = e.field(buf, "content-type", "application/dns-message", true)
		buf = e.field(buf, "content-length", lengths[i%len(lengths)], false)
		buf = e.field(buf, "cache-control", "max-age=300", false)
		buf = e.field(buf, "alt-svc", `h3=":8443"; ma=86400`, true)
		buf = e.field(buf, "date", dates[(i/50)%len(dates)], true)
		buf = e.status(buf, 415)
		i++
	}
	for range 1000 { // grow the ring
		encode()
	}
	if n := testing.AllocsPerRun(1000, encode); n != 0 {
		t.Fatalf("%v allocs per header block", n)
	}
}

// FuzzHPACKEncoder drives random sequences of status, field and
// setPeerTableSize calls; x/net's decoder must decode every block to exactly
// the fields given, and its table must be the encoder's.
func FuzzHPACKEncoder(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 1, 1, 1, 0, 2, 1, 1, 1, 0})
	f.Add([]byte{1, 1, 0, 2, 3, 5, 1, 6, 0, 2, 3, 5, 1, 6, 9, 0, 2, 3, 5, 1, 6, 8, 2, 3, 5, 1})
	f.Add([]byte{0, 6, 5, 3, 4, 7, 1, 6, 10, 2, 4, 7, 1, 6, 2, 6, 7, 3, 4, 8, 1})
	f.Add([]byte("\x01\x05\x20abcdefghijklmnopqrstuvwxyz012345\x07\x03abc\x04wxyz\x06\x04\x00\x05\x01x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		raw := func() string {
			n := min(int(next())%48, len(data))
			s := string(data[:n])
			data = data[n:]
			return s
		}
		names := []string{"content-type", "content-length", "cache-control", "date", "alt-svc", "vary",
			"allow", "access-control-allow-origin", "x-content-type-options", "etag", "server", "x"}
		values := []string{"", "0", "123", "application/dns-message", "application/dns-json", `h3=":8443"; ma=86400`,
			"max-age=300", "nosniff", "accept", "GET, POST", "*", hpackEncDate(0), hpackEncDate(1), hpackEncDate(2),
			strings.Repeat("m", 40), strings.Repeat("k", 200), strings.Repeat("l", 1500), strings.Repeat("h", 5000)}
		statuses := []int{200, 204, 206, 304, 400, 404, 500, 100, 302, 405, 413, 415, 429, 503, 999}
		sizes := []uint32{0, 1, 31, 32, 33, 36, 64, 65, 100, 128, 200, 1000, 4095, 4096, 4097, 8192, 1<<32 - 1}

		e, p := newHPACKEncoder(), newHPACKEncPeer(next()&1 == 1)
		var ops []hpackEncOp
		var buf []byte
		flush := func() {
			buf = hpackEncBlock(e, buf[:0], ops)
			if err := p.check(e, buf, ops); err != nil {
				t.Fatalf("block %d: %v", p.blocks, err)
			}
			ops = ops[:0]
		}
		for steps := 0; len(data) > 0 && steps < 3000; steps++ {
			switch op := next(); op % 8 {
			case 0:
				flush()
			case 1:
				ops = append(ops, hpackEncOp{status: statuses[int(next())%len(statuses)]})
			case 2, 3, 4:
				ops = append(ops, hpackEncOp{name: names[int(next())%len(names)], value: values[int(next())%len(values)], index: op&8 == 0})
			case 5:
				ops = append(ops, hpackEncOp{name: names[int(next())%len(names)], value: raw(), index: op&8 == 0})
			case 6:
				flush() // SETTINGS arrive between header blocks
				if b := next(); b < 0xf0 {
					p.setSize(e, sizes[int(b)%len(sizes)])
				} else {
					p.setSize(e, uint32(next())<<8|uint32(next()))
				}
			case 7:
				ops = append(ops, hpackEncOp{name: raw(), value: raw(), index: op&8 == 0})
			}
		}
		flush()
	})
}

// BenchmarkHPACKEncode encodes a typical DoH answer's header block with our
// encoder and with x/net's Encoder (what h2write.go uses today).
func BenchmarkHPACKEncode(b *testing.B) {
	dates := make([]string, 16)
	for i := range dates {
		dates[i] = hpackEncDate(i)
	}
	// Answer sizes (2 and 3 digits) and TTLs counting down vary per
	// response; 197 and 251 are coprime so the pairs vary too.
	lengths := make([]string, 197)
	for i := range lengths {
		lengths[i] = strconv.Itoa(45 + 3*i)
	}
	ages := make([]string, 251)
	for i := range ages {
		ages[i] = "max-age=" + strconv.Itoa(7*i)
	}
	const altSvc = `h3=":8443"; ma=86400`
	const perDate = 1000 // responses per second of date

	b.Run("own", func(b *testing.B) {
		e := newHPACKEncoder()
		buf := make([]byte, 0, 256)
		b.ReportAllocs()
		n := 0
		for i := 0; b.Loop(); i++ {
			buf = e.begin(buf[:0])
			buf = e.status(buf, 200)
			buf = e.field(buf, "content-type", "application/dns-message", true)
			buf = e.field(buf, "content-length", lengths[i%len(lengths)], false)
			buf = e.field(buf, "cache-control", ages[i%len(ages)], false)
			buf = e.field(buf, "alt-svc", altSvc, true)
			buf = e.field(buf, "date", dates[(i/perDate)%len(dates)], true)
			n += len(buf)
		}
		b.ReportMetric(float64(n)/float64(b.N), "B/block")
	})
	b.Run("xnet", func(b *testing.B) {
		var hb bytes.Buffer
		enc := hpack.NewEncoder(&hb)
		b.ReportAllocs()
		n := 0
		for i := 0; b.Loop(); i++ {
			hb.Reset()
			_ = enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
			_ = enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "application/dns-message"})
			_ = enc.WriteField(hpack.HeaderField{Name: "content-length", Value: lengths[i%len(lengths)]})
			_ = enc.WriteField(hpack.HeaderField{Name: "cache-control", Value: ages[i%len(ages)]})
			_ = enc.WriteField(hpack.HeaderField{Name: "alt-svc", Value: altSvc})
			_ = enc.WriteField(hpack.HeaderField{Name: "date", Value: dates[(i/perDate)%len(dates)]})
			n += hb.Len()
		}
		b.ReportMetric(float64(n)/float64(b.N), "B/block")
	})
}
