package ratelimit

import (
	"net/netip"
	"sync/atomic"
	"testing"
)

// BenchmarkAllow measures one decision: a client within its limit, one over
// it, and many clients from parallel goroutines.
func BenchmarkAllow(b *testing.B) {
	limits := Limits{QPS: 1000, Burst: 2000, Allow: pfx("198.51.100.0/24"), Deny: pfx("203.0.113.0/24")}
	b.Run("pass", func(b *testing.B) {
		l, _ := New(Config{Limits: Limits{QPS: 1 << 31, Burst: 1 << 31}})
		a := netip.MustParseAddr("192.0.2.1")
		for b.Loop() {
			l.Allow(a)
		}
	})
	b.Run("drop", func(b *testing.B) {
		l, _ := New(Config{Limits: limits})
		a := netip.MustParseAddr("192.0.2.1")
		for b.Loop() {
			l.Allow(a)
		}
	})
	b.Run("parallel-many-clients", func(b *testing.B) {
		l, _ := New(Config{Limits: limits})
		var seq atomic.Uint32
		b.RunParallel(func(pb *testing.PB) {
			base := seq.Add(1) << 16
			i := uint32(0)
			for pb.Next() {
				i++
				n := base | i&0xffff
				l.Allow(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}))
			}
		})
	})
}
