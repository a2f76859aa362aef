package gateway

import (
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// pressureSource is one counter family the pressure summary watches: the
// series whose labels match want, summed into the attribute attr and broken
// down by the label by.
type pressureSource struct {
	family string
	attr   string
	by     string
	want   func(labels map[string]string) bool
}

// pressureSources are every refusal, drop and protocol error dnsward
// counts. by "" sums the family without a breakdown.
var pressureSources = []pressureSource{
	{"dnsward_ratelimit_decisions_total", "queries_limited", "transport", func(l map[string]string) bool {
		return l["decision"] == "limited" || l["decision"] == "slipped" || l["decision"] == "denied"
	}},
	{"dnsward_xdp_packets_total", "xdp_dropped", "reason", func(l map[string]string) bool {
		return l["action"] == "drop" || l["action"] == "tc"
	}},
	{"dnsward_connections_refused_total", "connections_refused", "reason", nil},
	{"dnsward_protocol_errors_total", "protocol_errors", "transport", nil},
	{"dnsward_doh_http2_errors_total", "http2_errors", "reason", nil},
	{"dnsward_malformed_queries_total", "malformed_queries", "transport", nil},
	{"dnsward_udp_misses_refused_total", "udp_misses_refused", "", nil},
	{"dnsward_udp_receive_drops_total", "udp_kernel_drops", "socket", nil},
	{"dnsward_proxy_header_rejected_total", "proxy_headers_rejected", "reason", nil},
}

// pressureTop is how many limited prefixes a summary line names.
const pressureTop = 3

// pressureLog writes one line per interval in which clients were refused or
// misbehaved: how many, under which limit, on which transport, and the
// prefixes that went most over the rate limit in the interval, written as query_log.client says (a
// pseudonym by default, nothing with none). It reads the metrics every part
// already keeps, so it sees every limit without being wired into any of
// them, and it never names a client address unless query_log.client: raw.
type pressureLog struct {
	gather prometheus.Gatherer
	limits *limitsSource           // the limited prefixes; nil without a rate limiter
	excess map[netip.Prefix]uint64 // limits.excess() when last read
	log    *slog.Logger
	every  time.Duration
	last   map[string]float64 // series key -> value at the last tick
	stop   chan struct{}
	done   chan struct{} // closed when the ticks end; nil until start
}

func newPressureLog(g prometheus.Gatherer, limits *limitsSource, log *slog.Logger, every time.Duration) *pressureLog {
	p := &pressureLog{gather: g, limits: limits, log: log, every: every, stop: make(chan struct{})}
	p.last, _ = p.read() // the baseline: what happened before start is not news
	if limits != nil {
		p.excess = limits.excess()
	}
	return p
}

// start runs the ticks until Close.
func (p *pressureLog) start() error {
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.tick()
			}
		}
	}()
	return nil
}

// Close stops the ticks (Shutdown calls it once, after start or instead).
func (p *pressureLog) Close() error {
	close(p.stop)
	if p.done != nil {
		<-p.done
	}
	return nil
}

// tick logs what grew since the last tick, if anything did.
func (p *pressureLog) tick() {
	now, groups := p.read()
	type part struct {
		total float64
		by    map[string]float64
	}
	parts := map[string]*part{}
	for key, v := range now {
		d := v - p.last[key]
		if d <= 0 {
			continue
		}
		g := groups[key]
		pt := parts[g.attr]
		if pt == nil {
			pt = &part{by: map[string]float64{}}
			parts[g.attr] = pt
		}
		pt.total += d
		pt.by[g.value] += d
	}
	p.last = now
	if len(parts) == 0 {
		return
	}
	attrs := []any{"interval", p.every}
	for _, src := range pressureSources {
		pt := parts[src.attr]
		if pt == nil {
			continue
		}
		attrs = append(attrs, src.attr, int64(pt.total))
		if src.by != "" {
			attrs = append(attrs, src.attr+"_by_"+src.by, breakdown(pt.by))
		}
	}
	// A prefix's excess grows only with these counts, so reading it when
	// they grew keeps the last read a baseline for this interval.
	if p.limits != nil && (parts["queries_limited"] != nil || parts["xdp_dropped"] != nil) {
		now := p.limits.excess()
		if top := p.limits.topGrowth(p.excess, now, pressureTop); top != "" {
			attrs = append(attrs, "top_limited", top)
		}
		p.excess = now
	}
	p.log.Warn("gateway: clients refused or misbehaving", attrs...)
}

// seriesGroup is where one series' growth is summed.
type seriesGroup struct{ attr, value string }

// read gathers the watched series: their values by key, and the group
// each key sums into.
func (p *pressureLog) read() (map[string]float64, map[string]seriesGroup) {
	values, groups := map[string]float64{}, map[string]seriesGroup{}
	mfs, err := p.gather.Gather()
	if err != nil {
		p.log.Debug("gateway: gathering metrics for the pressure summary", "err", err)
	}
	for _, mf := range mfs {
		for _, src := range pressureSources {
			if mf.GetName() != src.family {
				continue
			}
			for _, m := range mf.GetMetric() {
				labels := labelMap(m)
				if src.want != nil && !src.want(labels) {
					continue
				}
				key := mf.GetName() + "{" + fmt.Sprint(m.GetLabel()) + "}"
				values[key] = m.GetCounter().GetValue()
				groups[key] = seriesGroup{attr: src.attr, value: labels[src.by]}
			}
		}
	}
	return values, groups
}

func labelMap(m *dto.Metric) map[string]string {
	l := make(map[string]string, len(m.GetLabel()))
	for _, lp := range m.GetLabel() {
		l[lp.GetName()] = lp.GetValue()
	}
	return l
}

// breakdown writes counts by label value, largest first: "udp:1200 dot:3".
func breakdown(by map[string]float64) string {
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if by[a] != by[b] {
			if by[a] > by[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		if k == "" {
			k = "-"
		}
		fmt.Fprintf(&b, "%s:%d", k, int64(by[k]))
	}
	return b.String()
}
