package certs

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var expiryDesc = prometheus.NewDesc("dnsward_cert_expiry_seconds",
	"Seconds until the certificate served for a name expires (negative once expired); absent before issuance.",
	[]string{"name"}, nil)

// registerMetrics registers the error counter and the expiry collector on
// cfg.Metrics, if set.
func (m *Manager) registerMetrics() error {
	if m.cfg.Metrics == nil {
		return nil
	}
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnsward_cert_errors_total",
		Help: "Failed certificate orders, renewals and reloads, by name.",
	}, []string{"name"})
	if err := m.cfg.Metrics.Register(errs); err != nil {
		return err
	}
	if err := m.cfg.Metrics.Register(expiryCollector{m}); err != nil {
		m.cfg.Metrics.Unregister(errs)
		return err
	}
	m.report.errors = errs
	return nil
}

// expiryCollector computes dnsward_cert_expiry_seconds at scrape time.
type expiryCollector struct{ m *Manager }

func (c expiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- expiryDesc }

func (c expiryCollector) Collect(ch chan<- prometheus.Metric) {
	names := c.m.cfg.names()
	if len(names) == 0 {
		names = []string{c.m.cfg.ServerName}
	}
	for _, name := range names {
		if leaf := c.m.src.leaf(name); leaf != nil {
			ch <- prometheus.MustNewConstMetric(expiryDesc, prometheus.GaugeValue, time.Until(leaf.NotAfter).Seconds(), name)
		}
	}
}
