package doh

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/dnsward/dnsward/internal/frontend"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/promshare"
)

// metrics holds the DoH collectors. A nil *metrics records nothing.
type metrics struct {
	requests   *prometheus.CounterVec   // version, method, status, profile
	handshakes *prometheus.CounterVec   // listener (tcp, quic), result (ok, resumed, error)
	open       *prometheus.GaugeVec     // listener (tls, plain, quic)
	accepted   *prometheus.CounterVec   // dnsward_connections_total{transport,profile}, shared with every transport
	h2errors   *prometheus.CounterVec   // reason, from the HTTP/2 engine
	duration   *prometheus.HistogramVec // version

	// Children resolved once, so that counting a request does not hash its
	// label values every time.
	requestsBy sync.Map               // requestLabels → prometheus.Counter
	durationBy [3]prometheus.Observer // by versionOf
}

// versions are the version label values, by versionOf.
var versions = [3]string{"1.1", "2", "3"}

// requestLabels are the label values of dnsward_doh_requests_total.
type requestLabels struct {
	version, method string
	status          int
	profile         string
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
	var errs [5]error
	m.requests, errs[0] = promshare.Register(reg, m.requests)
	m.handshakes, errs[1] = promshare.Register(reg, m.handshakes)
	m.open, errs[2] = promshare.Register(reg, m.open)
	m.h2errors, errs[3] = promshare.Register(reg, m.h2errors)
	m.duration, errs[4] = promshare.Register(reg, m.duration)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("doh: registering metrics: %w", err)
	}
	fm, err := frontend.NewMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("doh: registering metrics: %w", err)
	}
	m.accepted = fm.Connections
	for i, v := range versions {
		m.durationBy[i] = m.duration.WithLabelValues(v)
	}
	return m, nil
}

// request counts one answered request.
func (m *metrics) request(v int, method string, status int, profile string, took time.Duration) {
	if m == nil {
		return
	}
	version := versions[v]
	key := requestLabels{version, method, status, profile}
	c, ok := m.requestsBy.Load(key)
	if !ok {
		c, _ = m.requestsBy.LoadOrStore(key, m.requests.WithLabelValues(version, method, strconv.Itoa(status), profile))
	}
	c.(prometheus.Counter).Inc()
	m.durationBy[v].Observe(took.Seconds())
}

// handshake counts one TLS handshake on listener ("tcp", "quic").
func (m *metrics) handshake(listener, result string) {
	if m != nil {
		m.handshakes.WithLabelValues(listener, result).Inc()
	}
}

// connDelta moves the open-connection gauge of listener by d; an opened
// connection also counts in dnsward_connections_total as transport "doh"
// ("doh3" over QUIC) with no profile: DoH picks one per request.
func (m *metrics) connDelta(listener string, d float64) {
	if m == nil {
		return
	}
	m.open.WithLabelValues(listener).Add(d)
	if d > 0 {
		transport := "doh"
		if listener == "quic" {
			transport = "doh3"
		}
		m.accepted.WithLabelValues(transport, "").Inc()
	}
}

// h2error counts an HTTP/2 error or flood defence of the HTTP/2 engine.
func (m *metrics) h2error(reason string) {
	if m != nil {
		m.h2errors.WithLabelValues(reason).Inc()
	}
}
