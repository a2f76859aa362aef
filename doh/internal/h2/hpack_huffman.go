package h2

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"

	"golang.org/x/net/http2/hpack"
)

// huffEntry is the transition of the Huffman decoding machine from one
// state on one 4-bit input: in bits 0-11 the next state's row in huffFSM
// (the state times 16), in bits 16-23 the symbol completed if huffSym (at
// most one: no code is shorter than 5 bits), and the flags.
type huffEntry uint32

const (
	huffSym    huffEntry = 1 << (24 + iota) // a symbol completed
	huffFail                                // EOS reached: the string is invalid (RFC 7541 §5.2)
	huffAccept                              // the bits since the last symbol are at most 7 ones: the string may end here
)

// huffEOS is the EOS symbol: its code is 30 one bits (RFC 7541 Appendix B).
const huffEOS = 256

// huffFSM is the decoding machine, indexed by a state's row and an input:
// its states are the 256 internal nodes of the Huffman tree, state 0 the
// root.
var huffFSM = buildHuffFSM()

// huffNode is a node of the Huffman tree, used while huffFSM is built.
type huffNode struct {
	child [2]*huffNode // of an internal node
	leaf  bool
	sym   int  // of a leaf
	state int  // of an internal node: its state number
	depth int  // bits from the root
	pad   bool // the path from the root is at most 7 one bits
}

// buildHuffFSM builds the Huffman tree from x/net's codes, and from it the
// machine: each symbol's code length in bits is the Huffman length in bytes
// of eight copies of it, its code the first that many bits of their
// encoding.
func buildHuffFSM() [256 * 16]huffEntry {
	root := &huffNode{pad: true}
	states := []*huffNode{root}
	insert := func(code uint32, n, sym int) {
		cur := root
		for i := n - 1; i >= 0; i-- {
			bit := code >> i & 1
			if i == 0 {
				cur.child[bit] = &huffNode{leaf: true, sym: sym}
				return
			}
			if cur.child[bit] == nil {
				d := cur.depth + 1
				cur.child[bit] = &huffNode{state: len(states), depth: d, pad: cur.pad && bit == 1 && d <= 7}
				states = append(states, cur.child[bit])
			}
			cur = cur.child[bit]
		}
	}
	var enc []byte
	for sym := range 256 {
		s := string(bytes.Repeat([]byte{byte(sym)}, 8))
		n := int(hpack.HuffmanEncodeLength(s))
		enc = hpack.AppendHuffmanString(enc[:0], s)
		insert(binary.BigEndian.Uint32(enc)>>(32-n), n, sym)
	}
	insert(1<<30-1, 30, huffEOS)
	if len(states) != 256 {
		panic("doh: the HPACK Huffman tree does not have 256 internal nodes")
	}

	var t [256 * 16]huffEntry
	for _, s := range states {
		for v := range 16 {
			var e huffEntry
			cur := s
			for i := 3; i >= 0 && e&huffFail == 0; i-- {
				cur = cur.child[v>>i&1]
				switch {
				case cur.leaf && cur.sym == huffEOS:
					e = huffFail
				case cur.leaf:
					e, cur = huffSym|huffEntry(cur.sym)<<16, root
				}
			}
			if e&huffFail == 0 {
				e |= huffEntry(cur.state) << 4
				if cur.pad {
					e |= huffAccept
				}
			}
			t[s.state<<4|v] = e
		}
	}
	return t
}

// huffmanDecode appends to dst the Huffman-coded string src decodes to
// (RFC 7541 §5.2), failing as x/net's decoder does: hpack.ErrInvalidHuffman
// if src holds EOS or its padding is not at most 7 one bits, and, if maxLen
// > 0, hpack.ErrStringLength on decoding a byte past maxLen (even if src is
// invalid after it). On error, dst is returned with its original length.
func huffmanDecode(dst, src []byte, maxLen int) ([]byte, error) {
	start, limit := len(dst), math.MaxInt
	out := len(src) * 8 / 5 // at most
	if maxLen > 0 {
		limit = start + maxLen
		out = min(out, maxLen)
	}
	dst = slices.Grow(dst, out)
	e := huffAccept // at the root
	for _, b := range src {
		for sh := 4; sh >= 0; sh -= 4 {
			e = huffFSM[(uint32(e)|uint32(b>>sh&15))&0xfff]
			if e&(huffSym|huffFail) != 0 {
				if e&huffFail != 0 {
					return dst[:start], hpack.ErrInvalidHuffman
				}
				if len(dst) == limit {
					return dst[:start], hpack.ErrStringLength
				}
				dst = append(dst, byte(e>>16))
			}
		}
	}
	if e&huffAccept == 0 {
		return dst[:start], hpack.ErrInvalidHuffman
	}
	return dst, nil
}
