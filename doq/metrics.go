package doq

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/promshare"
)

// quicMetrics are the QUIC-specific counters beside frontend.Metrics.
type quicMetrics struct {
	handshakes *prometheus.CounterVec // dnsward_quic_handshakes_total{result}
	zeroRTT    *prometheus.CounterVec // dnsward_quic_0rtt_total{event}
}

func newQUICMetrics(reg prometheus.Registerer) (*quicMetrics, error) {
	hs, err := promshare.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnsward_quic_handshakes_total",
		Help: "QUIC handshakes by result (ok, failed).",
	}, []string{"result"}))
	if err != nil {
		return nil, err
	}
	z, err := promshare.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnsward_quic_0rtt_total",
		Help: "0-RTT use: connections resumed with 0-RTT, and 0-RTT queries answered at once or deferred to the handshake's end.",
	}, []string{"event"}))
	if err != nil {
		return nil, err
	}
	return &quicMetrics{handshakes: hs, zeroRTT: z}, nil
}
