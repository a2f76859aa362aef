package clientaddr

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/promshare"
)

// Reasons a PROXY v2 header, or its absence, makes a listener drop a
// datagram or close a connection.
const (
	ReasonUntrusted = "untrusted" // a header from a peer not in the trusted proxies
	ReasonMissing   = "missing"   // a trusted proxy sent no header
	ReasonMalformed = "malformed" // a trusted proxy's header did not parse or came too late
)

// Reason classifies an error from Datagram, Stream or ReadHeader.
func Reason(err error) string {
	switch {
	case errors.Is(err, ErrUntrusted):
		return ReasonUntrusted
	case errors.Is(err, ErrNoSignature):
		return ReasonMissing
	}
	return ReasonMalformed
}

// Rejects counts dropped datagrams and closed connections by the reasons
// above, for one transport, in dnsward_proxy_header_rejected_total. A nil
// *Rejects counts nothing.
type Rejects struct {
	vec       *prometheus.CounterVec
	transport string
}

// NewRejects returns the counter of transport ("udp", "tcp", "dot", "doh"),
// registered on reg (nil: not exported) and shared with the other
// transports registered there.
func NewRejects(reg prometheus.Registerer, transport string) (*Rejects, error) {
	vec, err := promshare.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dnsward_proxy_header_rejected_total",
		Help: "Datagrams dropped and connections closed for their PROXY v2 header, by transport and reason (untrusted, missing, malformed).",
	}, []string{"transport", "reason"}))
	if err != nil {
		return nil, fmt.Errorf("clientaddr: %w", err)
	}
	return &Rejects{vec: vec, transport: transport}, nil
}

// Add counts one rejection for err's reason.
func (r *Rejects) Add(err error) {
	if r != nil {
		r.vec.WithLabelValues(r.transport, Reason(err)).Inc()
	}
}
