package filter

import (
	"hash/maphash"
	"slices"
	"strings"
)

// intelIndex finds which MISP attribute blocked a name, for the EDE text
// and sightings. It holds 40 bytes per indicator: a hash of the name and
// its scope, and the attribute's and event's UUIDs.
type intelIndex struct {
	seed maphash.Seed
	recs []intelRec // sorted by h
	srcs []*intelSource
}

type intelRec struct {
	h           uint64
	attr, event [16]byte
	src         uint16
}

// intelHit is the attribute that blocked a name.
type intelHit struct {
	src         *intelSource
	attr, event [16]byte
}

func intelKey(seed maphash.Seed, name string, exact bool) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(name)
	if exact {
		h.WriteByte(0)
	}
	return h.Sum64()
}

// intelBuilder collects the records of an intelIndex; set seed with
// maphash.MakeSeed before the first add.
type intelBuilder struct {
	seed maphash.Seed
	recs []intelRec
}

func (b *intelBuilder) add(src int, in indicator) {
	r := intelRec{h: intelKey(b.seed, in.Name, in.exact()), src: uint16(src)}
	r.attr, _ = uuidBytes(in.Attr)
	r.event, _ = uuidBytes(in.Event)
	b.recs = append(b.recs, r)
}

func (b *intelBuilder) build(srcs []*intelSource) *intelIndex {
	if len(b.recs) == 0 {
		return nil
	}
	slices.SortFunc(b.recs, func(x, y intelRec) int {
		switch {
		case x.h < y.h:
			return -1
		case x.h > y.h:
			return 1
		}
		return 0
	})
	return &intelIndex{seed: b.seed, recs: slices.Clip(b.recs), srcs: srcs}
}

// lookup finds the indicator that blocks name: a hostname or URL host equal
// to it, else a domain equal to it or to its nearest parent that has one.
func (x *intelIndex) lookup(name string) (intelHit, bool) {
	if x == nil {
		return intelHit{}, false
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if r, ok := x.find(intelKey(x.seed, name, true)); ok {
		return x.hit(r), true
	}
	for n := name; n != ""; {
		if r, ok := x.find(intelKey(x.seed, n, false)); ok {
			return x.hit(r), true
		}
		_, n, _ = strings.Cut(n, ".")
	}
	return intelHit{}, false
}

func (x *intelIndex) find(h uint64) (intelRec, bool) {
	i, ok := slices.BinarySearchFunc(x.recs, h, func(r intelRec, h uint64) int {
		switch {
		case r.h < h:
			return -1
		case r.h > h:
			return 1
		}
		return 0
	})
	if !ok {
		return intelRec{}, false
	}
	return x.recs[i], true
}

func (x *intelIndex) hit(r intelRec) intelHit {
	return intelHit{src: x.srcs[r.src], attr: r.attr, event: r.event}
}

// detail is the EDE extra text after the category: "cert-api event <uuid>".
func (h intelHit) detail() string {
	return h.src.Name + " event " + formatUUID(h.event)
}

// intelDetail returns the EDE detail for a name the category blocked and
// notes a sighting, if a MISP indicator blocked it; "" if a list did.
func intelDetail(x *intelIndex, name string) string {
	hit, ok := x.lookup(name)
	if !ok {
		return ""
	}
	if hit.src.sighter != nil {
		hit.src.sighter.note(hit.attr)
	}
	return hit.detail()
}
