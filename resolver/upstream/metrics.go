package upstream

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/promshare"
)

// metrics holds the dnsward_upstream_* collectors; its zero value records
// nothing.
type metrics struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec
	healthy  *prometheus.GaugeVec
}

// newMetrics registers the collectors on reg, reusing ones that another
// upstream already registered there. A nil reg records nothing.
func newMetrics(reg prometheus.Registerer) (metrics, error) {
	if reg == nil {
		return metrics{}, nil
	}
	var m metrics
	var err error
	if m.duration, err = promshare.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "dnsward_upstream_request_duration_seconds",
		Help:    "Duration of exchanges with an upstream resolver, failed ones included.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"upstream"})); err != nil {
		return metrics{}, err
	}
	if m.errors, err = promshare.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnsward_upstream_errors_total",
		Help: "Failed exchanges with an upstream resolver by kind (network, timeout, protocol, servfail).",
	}, []string{"upstream", "kind"})); err != nil {
		return metrics{}, err
	}
	if m.healthy, err = promshare.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "dnsward_upstream_healthy",
		Help: "1 while a grouped upstream is healthy, 0 while it is backed off after failures.",
	}, []string{"upstream"})); err != nil {
		return metrics{}, err
	}
	return m, nil
}

// upstreamMetrics are the collectors bound to one upstream's label.
type upstreamMetrics struct {
	m        metrics
	name     string
	duration prometheus.Observer
}

func (m metrics) forUpstream(name string) upstreamMetrics {
	um := upstreamMetrics{m: m, name: name}
	if m.duration != nil {
		um.duration = m.duration.WithLabelValues(name)
	}
	return um
}

func (um upstreamMetrics) observe(seconds float64) {
	if um.duration != nil {
		um.duration.Observe(seconds)
	}
}

func (um upstreamMetrics) fail(k Kind) {
	if um.m.errors != nil {
		um.m.errors.WithLabelValues(um.name, k.String()).Inc()
	}
}

func (um upstreamMetrics) setHealthy(ok bool) {
	if um.m.healthy != nil {
		v := 0.0
		if ok {
			v = 1
		}
		um.m.healthy.WithLabelValues(um.name).Set(v)
	}
}
