// Package metricstest reads metric values back from a Prometheus registry in
// tests, so they can assert what a component counted.
package metricstest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Lookup gathers g and returns the value of the first series of the metric
// family name whose labels include every name/value pair in labels
// ("transport", "udp", "decision", "pass"), and whether there is one. A
// counter or gauge gives its value, a histogram or summary its sample count.
// A failing Gather or an odd number of labels fails the test.
func Lookup(t testing.TB, g prometheus.Gatherer, name string, labels ...string) (float64, bool) {
	t.Helper()
	if len(labels)%2 != 0 {
		t.Fatalf("metricstest: labels %q are not name/value pairs", labels)
	}
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matches(m, labels) {
				return value(m), true
			}
		}
	}
	return 0, false
}

// Value is Lookup's value, 0 where no series matches (a counter vector
// creates a series only when first incremented).
func Value(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, _ := Lookup(t, g, name, labels...)
	return v
}

// Must is Lookup's value and fails the test where no series matches.
func Must(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, ok := Lookup(t, g, name, labels...)
	if !ok {
		t.Fatalf("metricstest: no series %s%q", name, labels)
	}
	return v
}

// matches reports whether m has every name/value pair in labels.
func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
		}
		if !found {
			return false
		}
	}
	return true
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	case m.Summary != nil:
		return float64(m.Summary.GetSampleCount())
	}
	return m.GetCounter().GetValue() + m.GetGauge().GetValue() + m.GetUntyped().GetValue()
}
