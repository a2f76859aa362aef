package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/ratelimit"
	"github.com/dnsward/dnsward/xdp"
)

// LimitsReport is the JSON document GET /debug/limits serves on the metrics
// listener, and what `dnsward xdp stats` prints.
type LimitsReport struct {
	Limits    ReportLimits    `json:"limits"`
	XDP       *XDPReport      `json:"xdp"` // null when XDP is not configured or did not attach
	Userspace UserspaceReport `json:"userspace"`
}

// ReportLimits is the rate_limit block in force, normalized.
type ReportLimits struct {
	QPS        uint32         `json:"qps"`
	Burst      uint32         `json:"burst"`
	Slip       int            `json:"slip"`
	IPv4Prefix int            `json:"ipv4_prefix"`
	IPv6Prefix int            `json:"ipv6_prefix"`
	MaxConns   int            `json:"max_conns_per_prefix"`
	Allow      []netip.Prefix `json:"allow"`
	Deny       []netip.Prefix `json:"deny"`
}

// XDPReport is the kernel filter's state.
type XDPReport struct {
	Attached   []XDPAttachment `json:"attached"`
	Packets    []PacketCount   `json:"packets"` // every counter, zero ones too
	TopLimited []LimitedPrefix `json:"top_limited"`
}

// XDPAttachment is one interface the program is attached to.
type XDPAttachment struct {
	Interface string `json:"interface"`
	Mode      string `json:"mode"` // native or generic
}

// PacketCount is one XDP counter (dnsward_xdp_packets_total).
type PacketCount struct {
	Action  string `json:"action"` // pass, drop, tc
	Reason  string `json:"reason"`
	Packets uint64 `json:"packets"`
}

// UserspaceReport is the userspace limiter's state.
type UserspaceReport struct {
	UDP                 bool              `json:"udp"`       // it polices plain UDP (XDP is not attached)
	Decisions           []DecisionCount   `json:"decisions"` // non-zero series of dnsward_ratelimit_decisions_total
	ConnectionsRejected map[string]uint64 `json:"connections_rejected"`
	TopLimited          []LimitedPrefix   `json:"top_limited"`
}

// DecisionCount is one series of dnsward_ratelimit_decisions_total.
type DecisionCount struct {
	Transport string `json:"transport"`
	Decision  string `json:"decision"`
	Queries   uint64 `json:"queries"`
}

// LimitedPrefix is a client prefix that went over its limit.
type LimitedPrefix struct {
	// Prefix is written as query_log.client says: a pseudonym by default,
	// the /24 or /56 prefix with truncate, "" with none, the prefix with raw.
	Prefix string `json:"prefix"`
	Excess uint64 `json:"excess"` // queries over the limit while the prefix was tracked
}

// DefaultTop and MaxTop bound the ?top= parameter of /debug/limits and
// /debug/stats.
const (
	DefaultTop = 10
	MaxTop     = 1000
)

// limitsSource builds LimitsReports for one gateway.
type limitsSource struct {
	limiter  *ratelimit.Limiter
	xdp      *xdp.Filter // nil unless attached
	gatherer prometheus.Gatherer
	clients  *clientWriter
}

// topParam reads the ?top= parameter of /debug/limits and /debug/stats,
// answering 400 when it is bad.
func topParam(w http.ResponseWriter, r *http.Request) (int, bool) {
	v := r.URL.Query().Get("top")
	if v == "" {
		return DefaultTop, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > MaxTop {
		http.Error(w, "top: expected an integer in 0.."+strconv.Itoa(MaxTop), http.StatusBadRequest)
		return 0, false
	}
	return n, true
}

// ServeHTTP answers GET /debug/limits[?top=N].
func (s *limitsSource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	top, ok := topParam(w, r)
	if !ok {
		return
	}
	rep, err := s.report(top)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(rep)
}

// report reads the limits, the counters and the top n limited prefixes.
func (s *limitsSource) report(n int) (*LimitsReport, error) {
	l := s.limiter.Limits()
	rep := &LimitsReport{
		Limits: ReportLimits{QPS: l.QPS, Burst: l.Burst, Slip: l.Slip, IPv4Prefix: l.IPv4Prefix,
			IPv6Prefix: l.IPv6Prefix, MaxConns: l.MaxConns, Allow: l.Allow, Deny: l.Deny},
		Userspace: UserspaceReport{UDP: s.xdp == nil, TopLimited: s.limitedPrefixes(s.limiter.TopLimited(n)),
			ConnectionsRejected: map[string]uint64{}},
	}
	mfs, err := s.gatherer.Gather()
	if err != nil {
		return nil, err
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			v := uint64(m.GetCounter().GetValue())
			switch {
			case v == 0:
			case mf.GetName() == "dnsward_ratelimit_decisions_total":
				rep.Userspace.Decisions = append(rep.Userspace.Decisions,
					DecisionCount{Transport: labels["transport"], Decision: labels["decision"], Queries: v})
			case mf.GetName() == "dnsward_connections_refused_total":
				rep.Userspace.ConnectionsRejected[labels["reason"]] += v
			}
		}
	}
	if s.xdp == nil {
		return rep, nil
	}
	rep.XDP = &XDPReport{}
	for _, a := range s.xdp.Attached() {
		rep.XDP.Attached = append(rep.XDP.Attached, XDPAttachment{Interface: a.Interface, Mode: string(a.Mode)})
	}
	st, err := s.xdp.Stats()
	if err != nil {
		return nil, err
	}
	for i, v := range st {
		c := xdp.Counter(i)
		rep.XDP.Packets = append(rep.XDP.Packets, PacketCount{Action: c.Action(), Reason: c.Reason(), Packets: v})
	}
	top, err := s.xdp.TopLimited(n)
	if err != nil {
		return nil, err
	}
	rep.XDP.TopLimited = s.limitedPrefixes(top)
	return rep, nil
}

// excess sums each prefix's queries over the limit, in the userspace
// limiter and in XDP together, while the prefix has been tracked.
func (s *limitsSource) excess() map[netip.Prefix]uint64 {
	all := s.limiter.TopLimited(-1)
	if s.xdp != nil {
		if top, err := s.xdp.TopLimited(-1); err == nil {
			all = append(all, top...)
		}
	}
	sum := make(map[netip.Prefix]uint64, len(all))
	for _, l := range all {
		sum[l.Prefix] += l.Excess
	}
	return sum
}

// topGrowth writes the n prefixes whose excess grew most from last to now
// (a prefix tracked afresh grew by all it has), as query_log.client says:
// "prefix:queries …", largest first; "" when none grew or the client mode
// writes no prefix.
func (s *limitsSource) topGrowth(last, now map[netip.Prefix]uint64, n int) string {
	var grew []ratelimit.Limited
	for p, v := range now {
		d := v
		if v >= last[p] {
			d = v - last[p]
		}
		if d > 0 {
			grew = append(grew, ratelimit.Limited{Prefix: p, Excess: d})
		}
	}
	var b strings.Builder
	for _, p := range s.limitedPrefixes(ratelimit.Top(grew, n)) {
		if p.Prefix == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%d", p.Prefix, p.Excess)
	}
	return b.String()
}

// limitedPrefixes writes ls with the prefixes as query_log.client says.
func (s *limitsSource) limitedPrefixes(ls []ratelimit.Limited) []LimitedPrefix {
	out := make([]LimitedPrefix, len(ls))
	m := s.clients.get()
	for i, l := range ls {
		out[i] = LimitedPrefix{Prefix: m.Prefix(l.Prefix), Excess: l.Excess}
	}
	return out
}
