package metricstest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestLookup(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c_total", Help: "c"}, []string{"transport", "decision"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g", Help: "g"})
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "h_seconds", Help: "h"}, []string{"upstream"})
	reg.MustRegister(c, g, h)
	c.WithLabelValues("udp", "pass").Add(3)
	c.WithLabelValues("udp", "limited").Add(5)
	g.Set(-2)
	h.WithLabelValues("a").Observe(0.1)
	h.WithLabelValues("a").Observe(0.2)
	for _, tc := range []struct {
		name   string
		metric string
		labels []string
		want   float64
		found  bool
	}{
		{"counter by both labels", "c_total", []string{"transport", "udp", "decision", "limited"}, 5, true},
		{"labels in any order", "c_total", []string{"decision", "pass", "transport", "udp"}, 3, true},
		{"unknown label value", "c_total", []string{"decision", "denied"}, 0, false},
		{"gauge", "g", nil, -2, true},
		{"histogram sample count", "h_seconds", []string{"upstream", "a"}, 2, true},
		{"no family", "missing", nil, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, found := Lookup(t, reg, tc.metric, tc.labels...)
			if got != tc.want || found != tc.found {
				t.Errorf("Lookup = %v, %v; want %v, %v", got, found, tc.want, tc.found)
			}
			if v := Value(t, reg, tc.metric, tc.labels...); v != tc.want {
				t.Errorf("Value = %v, want %v", v, tc.want)
			}
		})
	}
}
