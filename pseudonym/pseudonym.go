// Package pseudonym turns client addresses into daily pseudonyms the way
// DNS4EU does: id = HMAC-SHA256(key_day, address) mod N.
//
// key_day is 32 random bytes made at each UTC midnight (on the first address
// seen that day) and held only in memory: it is never written, logged or
// returned, so ids of two days cannot be linked and an id cannot be turned
// back into an address, not even by the operator. N is fixed for the day
// from the number of distinct clients seen the previous day, counted with a
// HyperLogLog sketch over the HMAC values (never over addresses), as
// N = max(1, distinct / (2k)). A keyed hash spreads clients over the N
// buckets at random, so a bucket holds on average 2k clients of yesterday's
// population; the guarantee is statistical, not absolute: with 10,000
// clients and k = 8 (TestBucketSizes), under 1 % of clients share their id
// with fewer than k-1 others. On the first day (no previous count) and after
// a day without traffic N is 1: every client has id 0.
package pseudonym

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Pseudonymizer maps addresses to the day's pseudonyms; safe for concurrent
// use.
type Pseudonymizer struct {
	k   atomic.Int64
	now func() time.Time
	mu  sync.Mutex // taken only to change days
	cur atomic.Pointer[day]
}

// day is one UTC day's key, modulus and sketch of the clients seen.
type day struct {
	num    int64 // days since the Unix epoch, UTC
	n      uint64
	hashes sync.Pool // *hasher: HMAC-SHA256 under the day's key
	seen   Sketch
}

// hasher is a pooled HMAC with room for its input and output, so that ID
// allocates nothing.
type hasher struct {
	mac hash.Hash
	in  [16]byte
	sum [sha256.Size]byte
}

// New returns a Pseudonymizer whose buckets aim at k clients or more; now is
// its clock (nil: time.Now), injectable for tests.
func New(k int, now func() time.Time) *Pseudonymizer {
	if now == nil {
		now = time.Now
	}
	p := &Pseudonymizer{now: now}
	p.SetK(k)
	return p
}

// SetK changes k; N follows it from the next UTC day on.
func (p *Pseudonymizer) SetK(k int) { p.k.Store(int64(max(k, 1))) }

// ID returns the pseudonym of a, a client seen at time at (now, or a
// moment ago): the same all day, unrelated to yesterday's. a counts as a
// client seen today (it sizes tomorrow's N). ok is false when at was
// before today (on the Pseudonymizer's clock): that day's key is gone.
func (p *Pseudonymizer) ID(a netip.Addr, at time.Time) (id uint64, ok bool) {
	d := p.cur.Load()
	if d == nil || dayOf(at) != d.num { // only then is the clock read: at is usually today
		d = p.today()
	}
	if dayOf(at) < d.num {
		return 0, false
	}
	return d.id(a, true), true
}

// Name is today's ID for an address that is not a client of its own (a
// rate-limited prefix's base address on /debug/limits): not counted as
// seen.
func (p *Pseudonymizer) Name(a netip.Addr) uint64 { return p.today().id(a, false) }

func (d *day) id(a netip.Addr, client bool) uint64 {
	h := d.hashes.Get().(*hasher)
	h.mac.Reset()
	h.in = a.Unmap().As16()
	h.mac.Write(h.in[:])
	h.mac.Sum(h.sum[:0])
	id, seen := binary.BigEndian.Uint64(h.sum[:8]), binary.BigEndian.Uint64(h.sum[8:16])
	d.hashes.Put(h)
	if client {
		d.seen.Add(seen)
	}
	return id % d.n
}

// Buckets is N, today's number of distinct ids.
func (p *Pseudonymizer) Buckets() uint64 { return p.today().n }

// Distinct estimates how many distinct clients were seen today.
func (p *Pseudonymizer) Distinct() uint64 { return p.today().seen.Estimate() }

// dayOf is t's UTC day, counted from the Unix epoch.
func dayOf(t time.Time) int64 { return t.Unix() / 86400 }

// today returns the current day, starting a new one at UTC midnight.
func (p *Pseudonymizer) today() *day {
	num := dayOf(p.now())
	if d := p.cur.Load(); d != nil && d.num == num {
		return d
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.cur.Load()
	if prev != nil && prev.num == num {
		return prev
	}
	var distinct uint64
	if prev != nil && prev.num == num-1 {
		distinct = prev.seen.Estimate()
	}
	d := &day{num: num, n: max(1, distinct/uint64(2*p.k.Load()))}
	key := make([]byte, 32)
	rand.Read(key) // never fails (crypto/rand)
	d.hashes.New = func() any { return &hasher{mac: hmac.New(sha256.New, key)} }
	p.cur.Store(d)
	return d
}
