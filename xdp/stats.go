package xdp

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/ratelimit"
)

// Counter names one of the program's per-CPU packet counters.
type Counter int

// The counters, in the order of enum stat in dnsward.c.
const (
	PassedWithinLimit Counter = iota // a query within its client's limit
	PassedAllowList                  // a query from an allowed prefix
	PassedNotDNS                     // anything not UDP to a DNS port
	DroppedRateLimit                 // a query over its client's limit
	DroppedDenyList                  // a query from a denied prefix
	DroppedMalformed                 // cannot be a DNS query, or truncated headers
	DroppedFragment                  // a fragment to a DNS port
	AnsweredTC                       // an excess query answered with TC=1 (slip)
	numCounters
)

var counterLabels = [numCounters][2]string{
	PassedWithinLimit: {"pass", "within_limit"},
	PassedAllowList:   {"pass", "allow_list"},
	PassedNotDNS:      {"pass", "not_dns"},
	DroppedRateLimit:  {"drop", "rate_limit"},
	DroppedDenyList:   {"drop", "deny_list"},
	DroppedMalformed:  {"drop", "malformed"},
	DroppedFragment:   {"drop", "fragment"},
	AnsweredTC:        {"tc", "rate_limit"},
}

// Action returns the counter's action label: pass, drop or tc.
func (c Counter) Action() string { return counterLabels[c][0] }

// Reason returns the counter's reason label.
func (c Counter) Reason() string { return counterLabels[c][1] }

// Stats holds the counters summed over CPUs, indexed by Counter.
type Stats [numCounters]uint64

// Stats reads the counters.
func (f *Filter) Stats() (Stats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var s Stats
	if f.objs == nil {
		return s, errors.New("xdp: filter is closed")
	}
	var perCPU []uint64
	for c := range numCounters {
		if err := f.objs.Stats.Lookup(uint32(c), &perCPU); err != nil {
			return s, fmt.Errorf("xdp: read counter %s/%s: %w", c.Action(), c.Reason(), err)
		}
		for _, v := range perCPU {
			s[c] += v
		}
	}
	return s, nil
}

// TopLimited returns up to n client prefixes with the most excess queries
// among those the LRU table holds now, most first.
func (f *Filter) TopLimited(n int) ([]ratelimit.Limited, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.objs == nil {
		return nil, errors.New("xdp: filter is closed")
	}
	var (
		k   [16]byte
		b   bpfBucket
		all []ratelimit.Limited
	)
	it := f.objs.Buckets.Iterate()
	for it.Next(&k, &b) {
		if b.Excess == 0 {
			continue
		}
		a := netip.AddrFrom16(k).Unmap()
		bits := f.limits.IPv6Prefix
		if a.Is4() {
			bits = f.limits.IPv4Prefix
		}
		all = append(all, ratelimit.Limited{Prefix: netip.PrefixFrom(a, bits), Excess: uint64(b.Excess)})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("xdp: read buckets: %w", err)
	}
	return ratelimit.Top(all, n), nil
}

var (
	packetsDesc = prometheus.NewDesc("dnsward_xdp_packets_total",
		"Packets seen by the XDP filter, by action (pass, drop, tc) and reason.",
		[]string{"action", "reason"}, nil)
	attachedDesc = prometheus.NewDesc("dnsward_xdp_attached",
		"1 for each interface the XDP filter is attached to, by mode.",
		[]string{"interface", "mode"}, nil)
)

// collector reads the per-CPU counters at scrape time.
type collector struct{ f *Filter }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- packetsDesc
	ch <- attachedDesc
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s, err := c.f.Stats()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(packetsDesc, err)
		return
	}
	for i, v := range s {
		ch <- prometheus.MustNewConstMetric(packetsDesc, prometheus.CounterValue, float64(v),
			Counter(i).Action(), Counter(i).Reason())
	}
	for _, a := range c.f.Attached() {
		ch <- prometheus.MustNewConstMetric(attachedDesc, prometheus.GaugeValue, 1, a.Interface, string(a.Mode))
	}
}
