package frontend

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/promshare"
)

// Metrics are the counters every stream transport keeps, labelled by
// transport ("dot", "doq") and profile name. Queries are counted by the
// resolver chain (dnsward_queries_total{transport,profile,rcode}), not here.
type Metrics struct {
	Connections    *prometheus.CounterVec // dnsward_connections_total{transport,profile}
	Active         *prometheus.GaugeVec   // dnsward_connections_active{transport}
	ProtocolErrors *prometheus.CounterVec // dnsward_protocol_errors_total{transport,profile,kind}
}

// NewMetrics creates the transport metrics and registers them on reg (nil:
// not registered). Metrics another transport registered already on reg are
// shared rather than an error.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnsward_connections_total",
			Help: "Client connections accepted, by transport and profile.",
		}, []string{"transport", "profile"}),
		Active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "dnsward_connections_active",
			Help: "Client connections currently open, by transport.",
		}, []string{"transport"}),
		ProtocolErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnsward_protocol_errors_total",
			Help: "Protocol errors from clients, by transport, profile and kind.",
		}, []string{"transport", "profile", "kind"}),
	}
	var err error
	m.Connections, err = promshare.Register(reg, m.Connections)
	if err != nil {
		return nil, err
	}
	if m.Active, err = promshare.Register(reg, m.Active); err != nil {
		return nil, err
	}
	if m.ProtocolErrors, err = promshare.Register(reg, m.ProtocolErrors); err != nil {
		return nil, err
	}
	return m, nil
}
