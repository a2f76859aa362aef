package doh

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics holds the DoH collectors. A nil *metrics records nothing.
type metrics struct {
	requests   *prometheus.CounterVec   // version, method, status, profile
	handshakes *prometheus.CounterVec   // listener (tcp, quic), result (ok, resumed, error)
	open       *prometheus.GaugeVec     // listener (tls, plain, quic)
	rejected   *prometheus.CounterVec   // reason
	h2errors   *prometheus.CounterVec   // reason, from x/net/http2
	duration   *prometheus.HistogramVec // version
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnsward_doh_requests_total",
			Help: "DoH requests by HTTP version, method, HTTP status and profile.",
		}, []string{"version", "method", "status", "profile"}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnsward_doh_tls_handshakes_total",
			Help: "TLS handshakes on DoH listeners by listener and result.",
		}, []string{"listener", "result"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dnsward_doh_open_connections",
			Help: "Open DoH connections by listener.",
		}, []string{"listener"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnsward_doh_rejected_connections_total",
			Help: "DoH connections closed at accept by reason.",
		}, []string{"reason"}),
		h2errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnsward_doh_http2_errors_total",
			Help: "HTTP/2 protocol errors and flood defences triggered, by reason.",
		}, []string{"reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dnsward_doh_request_duration_seconds",
			Help:    "Time to answer a DoH request by HTTP version.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 8),
		}, []string{"version"}),
	}
	var err error
	m.requests = register(reg, m.requests, &err)
	m.handshakes = register(reg, m.handshakes, &err)
	m.open = register(reg, m.open, &err)
	m.rejected = register(reg, m.rejected, &err)
	m.h2errors = register(reg, m.h2errors, &err)
	m.duration = register(reg, m.duration, &err)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// the same description (a second Server on the same registry shares it).
func register[C prometheus.Collector](reg prometheus.Registerer, c C, errp *error) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	if *errp == nil {
		*errp = fmt.Errorf("doh: registering metrics: %w", err)
	}
	return c
}

// request counts one answered request.
func (m *metrics) request(version, method string, status int, profile string, took time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(version, method, strconv.Itoa(status), profile).Inc()
	m.duration.WithLabelValues(version).Observe(took.Seconds())
}

// handshake counts one TLS handshake on listener ("tcp", "quic").
func (m *metrics) handshake(listener, result string) {
	if m != nil {
		m.handshakes.WithLabelValues(listener, result).Inc()
	}
}

// connDelta moves the open-connection gauge of listener by d.
func (m *metrics) connDelta(listener string, d float64) {
	if m != nil {
		m.open.WithLabelValues(listener).Add(d)
	}
}

// reject counts a connection closed at accept.
func (m *metrics) reject(reason string) {
	if m != nil {
		m.rejected.WithLabelValues(reason).Inc()
	}
}

// h2error counts an HTTP/2 error reported by x/net/http2's CountError hook.
func (m *metrics) h2error(reason string) {
	if m != nil {
		m.h2errors.WithLabelValues(reason).Inc()
	}
}
