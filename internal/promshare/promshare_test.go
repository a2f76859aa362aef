package promshare

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func counter(labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dnsward_test_total", Help: "test"}, labels)
}

func TestRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	first, err := Register(reg, counter("a"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := Register(reg, counter("a"))
	if err != nil || second != first {
		t.Fatalf("same description: got %p, %v; want the first collector %p", second, err, first)
	}
	if _, err := Register(reg, counter("b")); err == nil {
		t.Fatal("a conflicting description registered")
	}
	if c, err := Register(nil, counter("a")); err != nil || c == nil {
		t.Fatalf("nil registry: %v, %v", c, err)
	}
}
