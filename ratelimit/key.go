package ratelimit

import (
	"encoding/binary"
	"net/netip"
)

// key is a client prefix in the layout the XDP program uses: 16 bytes, IPv4
// as ::ffff:a.b.c.d, host bits cleared.
type key [16]byte

// keyOf masks an unmapped address to the configured prefix length.
func keyOf(a netip.Addr, v4bits, v6bits int) key {
	bits := v6bits
	if a.Is4() {
		bits = v4bits
	}
	p, _ := a.Prefix(bits)
	return p.Addr().As16()
}

// prefix returns the client prefix the key stands for.
func (k key) prefix(v4bits, v6bits int) netip.Prefix {
	a := netip.AddrFrom16(k).Unmap()
	if a.Is4() {
		return netip.PrefixFrom(a, v4bits)
	}
	return netip.PrefixFrom(a, v6bits)
}

// shard picks one of the shardCount shards from the top bits of a
// multiplicative hash, which depend on every byte of the key.
func (k key) shard() int {
	h := (binary.LittleEndian.Uint64(k[:8])*0x9e3779b97f4a7c15 ^ binary.LittleEndian.Uint64(k[8:])) * 0xbf58476d1ce4e5b9
	return int(h >> (64 - shardBits))
}
