package filter

import "github.com/prometheus/client_golang/prometheus"

// metrics are the Manager's Prometheus series, labelled by category.
type metrics struct {
	entries, bytes, skipped, lastSuccess, buildSeconds, empty *prometheus.GaugeVec
	errors                                                    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"category"})
	}
	m := &metrics{
		entries:      gauge("dnsward_filter_list_entries", "Entries in the category's compiled set (after removing names a parent covers)."),
		bytes:        gauge("dnsward_filter_list_bytes", "Memory held by the category's compiled sets."),
		skipped:      gauge("dnsward_filter_list_skipped_lines", "Lines the last build of the category could not use."),
		lastSuccess:  gauge("dnsward_filter_last_success_timestamp_seconds", "Unix time of the category's last successful build."),
		buildSeconds: gauge("dnsward_filter_build_seconds", "Duration of the category's last build."),
		empty: gauge("dnsward_filter_category_empty",
			"1 while the category blocks nothing: no lists configured, or none loaded yet (a remote list never downloaded, a first build that failed)."),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnsward_filter_list_errors_total",
			Help: "List refreshes that failed, by category and stage (download, parse, empty, read); the previous version, if any, kept serving.",
		}, []string{"category", "stage"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.entries, m.bytes, m.skipped, m.lastSuccess, m.buildSeconds, m.empty, m.errors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
