package frontendtest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Sum adds up every series of the metric family name in reg (0 if absent).
func Sum(t testing.TB, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}
