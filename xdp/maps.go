package xdp

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/cilium/ebpf"

	"github.com/dnsward/dnsward/ratelimit"
)

// lpmKey is struct lpm_key: a prefix in the IPv4-mapped IPv6 space.
type lpmKey struct {
	Prefixlen uint32
	Addr      [16]byte
}

func lpmKeyOf(p netip.Prefix) lpmKey {
	bits := p.Bits()
	if p.Addr().Is4() {
		bits += 96
	}
	return lpmKey{Prefixlen: uint32(bits), Addr: p.Addr().As16()}
}

// load loads the program and its maps, not yet attached.
func load(tableSize int) (*bpfObjects, error) {
	spec, err := loadBpf()
	if err != nil {
		return nil, err
	}
	spec.Maps[bpfMapBuckets].MaxEntries = uint32(tableSize)
	var objs bpfObjects
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		return nil, err
	}
	return &objs, nil
}

// configure writes ports and limits (normalized) into the maps.
func configure(objs *bpfObjects, ports []uint16, l ratelimit.Limits) error {
	c := bpfConfig{
		Rate:     uint64(l.QPS),
		Cap:      uint64(l.Burst) * 1e9,
		Slip:     uint32(l.Slip),
		V4Prefix: uint8(l.IPv4Prefix),
		V6Prefix: uint8(l.IPv6Prefix),
		Nports:   uint8(len(ports)),
	}
	c.FillNs = (c.Cap + c.Rate - 1) / c.Rate
	copy(c.Ports[:], ports)
	if err := objs.ConfigMap.Put(uint32(0), &c); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if err := syncList(objs.AllowList, l.Allow); err != nil {
		return fmt.Errorf("write allow list: %w", err)
	}
	if err := syncList(objs.DenyList, l.Deny); err != nil {
		return fmt.Errorf("write deny list: %w", err)
	}
	return nil
}

// syncList makes the trie hold exactly ps: new entries first, then stale
// ones removed, so a prefix kept across a reload is never missing.
func syncList(m *ebpf.Map, ps []netip.Prefix) error {
	want := make(map[lpmKey]bool, len(ps))
	for _, p := range ps {
		k := lpmKeyOf(p)
		want[k] = true
		if err := m.Put(&k, k.Prefixlen); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	var stale []lpmKey
	var k lpmKey
	var v uint32
	it := m.Iterate()
	for it.Next(&k, &v) {
		if !want[k] {
			stale = append(stale, k)
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	for _, k := range stale {
		if err := m.Delete(&k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return err
		}
	}
	return nil
}
