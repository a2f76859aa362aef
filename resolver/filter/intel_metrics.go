package filter

import "github.com/prometheus/client_golang/prometheus"

// intelMetrics are the MISP sources' Prometheus series.
type intelMetrics struct {
	indicators, lastSuccess, vetoed *prometheus.GaugeVec
	errors, sent, dropped           *prometheus.CounterVec
}

func newIntelMetrics(reg prometheus.Registerer) (*intelMetrics, error) {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	}
	m := &intelMetrics{
		indicators:  gauge("dnsward_misp_indicators", "MISP indicators blocking in the last build, by source, category and attribute type.", "source", "category", "type"),
		lastSuccess: gauge("dnsward_misp_last_success_timestamp_seconds", "Unix time of the source's last successful pull.", "source"),
		vetoed:      gauge("dnsward_misp_vetoed_indicators", "MISP indicators not blocked because a warninglist matched them, in the last build.", "source", "warninglist"),
		errors:      counter("dnsward_misp_pull_errors_total", "MISP pulls that failed, by source and stage (download, parse); the last good set kept serving.", "source", "stage"),
		sent:        counter("dnsward_misp_sightings_sent_total", "Sightings sent to the source's /sightings/add.", "source"),
		dropped:     counter("dnsward_misp_sightings_dropped_total", "Sightings dropped: the send failed or too many were waiting.", "source"),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.indicators, m.lastSuccess, m.vetoed, m.errors, m.sent, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
