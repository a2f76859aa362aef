package ratelimit

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/transport"
)

// outcome is a decision with its reason, as counted in metrics.
type outcome uint8

const (
	outcomePass outcome = iota
	outcomeAllowlisted
	outcomeLimited
	outcomeSlipped
	outcomeDenied
	outcomeCount
)

var outcomeNames = [outcomeCount]string{"pass", "allowlisted", "limited", "slipped", "denied"}

func outcomeOf(d Decision) outcome {
	switch d {
	case Pass:
		return outcomePass
	case Slip:
		return outcomeSlipped
	}
	return outcomeLimited
}

// transports is one past the largest transport.Kind; 0 is "any".
const transports = int(transport.DoQ) + 1

type metrics struct {
	decisions [transports][outcomeCount]prometheus.Counter
	evictions prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, l *Limiter) (*metrics, error) {
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnsward_ratelimit_decisions_total",
		Help: "Queries seen by the userspace rate limiter, by transport and decision.",
	}, []string{"transport", "decision"})
	m := &metrics{
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dnsward_ratelimit_evictions_total",
			Help: "Client buckets evicted to keep the rate limiter's table bounded.",
		}),
	}
	for t := range m.decisions {
		name := "any"
		if t > 0 {
			name = transport.Kind(t).String()
		}
		for o := range m.decisions[t] {
			m.decisions[t][o] = decisions.WithLabelValues(name, outcomeNames[o])
		}
	}
	if reg == nil {
		return m, nil
	}
	buckets := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dnsward_ratelimit_buckets",
		Help: "Client prefixes the userspace rate limiter tracks.",
	}, func() float64 { return float64(l.table.len()) })
	for _, c := range []prometheus.Collector{decisions, m.evictions, buckets} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) decide(t transport.Kind, o outcome) {
	if int(t) >= transports {
		t = 0
	}
	m.decisions[t][o].Inc()
}
