package pseudonym

import (
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// clock is an injectable clock tests move by hand.
type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time  { return time.Unix(0, c.t.Load()).UTC() }
func (c *clock) set(t time.Time) { c.t.Store(t.UnixNano()) }

// idNow is a's pseudonym as of p's clock.
func idNow(p *Pseudonymizer, a netip.Addr) uint64 {
	id, _ := p.ID(a, p.now())
	return id
}

func clients(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	}
	return out
}

var day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// seeDay shows every client to p on the day starting at d, twice (morning
// and evening), and returns the morning's ids, checking the evening's match.
func seeDay(t *testing.T, p *Pseudonymizer, c *clock, d time.Time, cs []netip.Addr) []uint64 {
	t.Helper()
	c.set(d.Add(time.Hour))
	ids := make([]uint64, len(cs))
	for i, a := range cs {
		ids[i] = idNow(p, a)
	}
	c.set(d.Add(23*time.Hour + 59*time.Minute))
	for i, a := range cs {
		if id := idNow(p, a); id != ids[i] {
			t.Fatalf("%v: id %d in the morning, %d in the evening of the same day", a, ids[i], id)
		}
	}
	return ids
}

func TestFirstDayIsOneBucket(t *testing.T) {
	var c clock
	p := New(8, c.now)
	for _, id := range seeDay(t, p, &c, day0, clients(100)) {
		if id != 0 {
			t.Fatalf("first day: id %d, want 0 (no previous count, N = 1)", id)
		}
	}
}

// TestBucketSizes measures the guarantee the package comment states: with
// 10,000 clients and k = 8, the share of clients whose bucket holds fewer
// than k clients.
func TestBucketSizes(t *testing.T) {
	const n, k = 10000, 8
	var c clock
	p := New(k, c.now)
	cs := clients(n)
	seeDay(t, p, &c, day0, cs)
	ids := seeDay(t, p, &c, day0.AddDate(0, 0, 1), cs)
	buckets := p.Buckets()
	if want := uint64(n / (2 * k)); buckets < want*9/10 || buckets > want*11/10 {
		t.Fatalf("N = %d for %d clients, want about %d (the sketch's estimate / 2k)", buckets, n, want)
	}
	size := map[uint64]int{}
	for _, id := range ids {
		size[id]++
	}
	small := 0
	for _, id := range ids {
		if size[id] < k {
			small++
		}
	}
	share := float64(small) / n
	t.Logf("10,000 clients, k=%d: N=%d buckets, %.2f%% of clients in buckets smaller than k", k, buckets, 100*share)
	if share > 0.01 {
		t.Fatalf("%.2f%% of clients are in buckets smaller than k, the documented bound is 1%%", 100*share)
	}
}

func TestDaysUnlinkable(t *testing.T) {
	const n, k = 4000, 8
	var c clock
	p := New(k, c.now)
	cs := clients(n)
	seeDay(t, p, &c, day0, cs)
	d1 := seeDay(t, p, &c, day0.AddDate(0, 0, 1), cs)
	d2 := seeDay(t, p, &c, day0.AddDate(0, 0, 2), cs)
	// Two clients sharing an id on day 1 share one on day 2 only by chance (1/N).
	pairs, kept := 0, 0
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			if d1[i] == d1[j] {
				pairs++
				if d2[i] == d2[j] {
					kept++
				}
			}
		}
	}
	if pairs == 0 || float64(kept)/float64(pairs) > 3.0/float64(p.Buckets()) {
		t.Fatalf("%d of %d day-1 bucket pairs share a bucket on day 2 (N=%d): days are linkable", kept, pairs, p.Buckets())
	}
}

func TestEmptyDayResets(t *testing.T) {
	var c clock
	p := New(8, c.now)
	cs := clients(1000)
	seeDay(t, p, &c, day0, cs)
	seeDay(t, p, &c, day0.AddDate(0, 0, 1), cs)
	if p.Buckets() == 1 {
		t.Fatal("a day after 1000 clients still has one bucket")
	}
	seeDay(t, p, &c, day0.AddDate(0, 0, 3), cs) // day 2 had no traffic
	if p.Buckets() != 1 {
		t.Fatalf("after a day without traffic N = %d, want 1", p.Buckets())
	}
}

func TestSketchEstimate(t *testing.T) {
	for _, n := range []int{10, 1000, 100000} {
		p := New(1, nil)
		for _, a := range clients(n) {
			idNow(p, a)
			idNow(p, a) // repeats are not counted twice
		}
		// The key is random, so the estimate is too: allow 5 standard
		// errors (2.3 % each), and one collision in the small range.
		got, want := float64(p.Distinct()), float64(n)
		if got < min(0.885*want, want-1) || got > max(1.115*want, want+1) {
			t.Errorf("%d clients: estimated %v", n, got)
		}
	}
}

func TestSketchMerge(t *testing.T) {
	var a, b Sketch
	for i := range uint64(20000) {
		h := mix(i)
		if i < 15000 {
			a.Add(h)
		}
		if i >= 5000 {
			b.Add(h)
		}
	}
	a.Merge(&b)
	if got := a.Estimate(); got < 18600 || got > 21400 {
		t.Fatalf("merged estimate %d, want about 20000 (the union)", got)
	}
}

// mix is splitmix64's finalizer: distinct inputs, well-spread outputs.
func mix(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// TestNameNotCounted: naming an address that is not a client (a limited
// prefix on /debug/limits) gives the ID it would have but does not count it
// among the day's clients, which size tomorrow's buckets.
func TestNameNotCounted(t *testing.T) {
	c := &clock{}
	c.set(day0.Add(time.Hour))
	p := New(8, c.now)
	for _, a := range clients(1000) {
		if p.Name(a) != p.today().id(a, false) {
			t.Fatal("Name differs from the ID's value")
		}
	}
	if n := p.Distinct(); n != 0 {
		t.Fatalf("%d distinct clients counted from names alone", n)
	}
	idNow(p, clients(1)[0])
	if n := p.Distinct(); n != 1 {
		t.Fatalf("%d distinct clients after one ID", n)
	}
}

// TestIDEndedDay: a client seen just before midnight and named just after
// (a query log record written late) gets no id: not yesterday's, whose key
// is gone, nor today's, which would tie a record of yesterday to today's
// traffic. One seen today gets today's id.
func TestIDEndedDay(t *testing.T) {
	var c clock
	p := New(8, c.now)
	a := netip.MustParseAddr("192.0.2.1")
	midnight := day0.AddDate(0, 0, 1)
	c.set(midnight.Add(5 * time.Millisecond))
	if id, ok := p.ID(a, midnight.Add(-time.Millisecond)); ok {
		t.Errorf("a client seen before midnight got id %d after it", id)
	}
	id, ok := p.ID(a, midnight.Add(time.Millisecond))
	if !ok || id != idNow(p, a) {
		t.Errorf("a client seen today: id %d, %v; want today's %d", id, ok, idNow(p, a))
	}
}
