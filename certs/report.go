package certs

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// reporter logs certificate failures and counts them per name.
type reporter struct {
	log    *slog.Logger
	errors *prometheus.CounterVec // nil when metrics are off
}

// fail logs msg with the cause and counts an error for name.
func (r *reporter) fail(name, msg string, err error) {
	r.log.Error(msg, "name", name, "error", err)
	if r.errors != nil {
		r.errors.WithLabelValues(name).Inc()
	}
}
