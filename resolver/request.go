// Package resolver holds the transport-independent core of dnsward: the request
// shape every front-end builds, the Handler chain that answers it, the cache,
// request coalescing and upstream forwarding.
package resolver

import (
	"context"
	"io"
	"net/netip"
	"time"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Request is one DNS query as the resolver sees it. Transports fill it in and
// nothing transport-specific travels further.
type Request struct {
	Msg        *dns.Msg
	Client     netip.AddrPort // after trusted PROXY/X-Forwarded-For handling
	Transport  transport.Kind
	ServerName string   // TLS SNI or HTTP Host, "" for plain DNS
	Profile    *Profile // chosen at ingress, never nil
	// ClientID is the client's own label (DoH path or TLS server name;
	// see Profiles.Identify), canonical; "" when it gave none.
	ClientID string
	// ClientListed says ClientID is one of the configured clients.
	ClientListed bool
	// Admission is the admission step's decision, made when the request was
	// offered to Replay, so that ServeDNS does not charge the client a second
	// time. Transports pass the same Request to both.
	Admission Admission
	// Received is when the transport read the query, where it notes that
	// (zero: when the chain is called). Durations count from there.
	Received time.Time

	reuse    reuseNotes // set by the chain while it answers (reuse.go)
	upstream bool       // the answer was resolved upstream for this request (query log)
	category string     // the list category that blocked the answer (query log)
	qlog     pendingLog // the answer the query log waits for Sent to bring
}

// start is when answering req began: Received, else now.
func (r *Request) start(now time.Time) time.Time {
	if r.Received.IsZero() {
		return now
	}
	return r.Received
}

// countPolicy counts the answer in c, a policy metric, and notes c so that
// replays of the answer count in it too.
func (r *Request) countPolicy(c prometheus.Counter) {
	c.Inc()
	r.reuse.policy = c
}

// Handler answers a request. It returns a message rather than writing one, so
// every transport can frame, pad and truncate the same answer in its own way.
// A non-nil error means no answer could be built; transports answer SERVFAIL.
type Handler interface {
	ServeDNS(ctx context.Context, req *Request) (*dns.Msg, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) (*dns.Msg, error)

// ServeDNS calls f.
func (f HandlerFunc) ServeDNS(ctx context.Context, req *Request) (*dns.Msg, error) {
	return f(ctx, req)
}

// Middleware wraps a Handler with one step of the resolver chain.
type Middleware func(next Handler) Handler

// Upstream forwards a query to one resolver (udp://, tcp://, tls://, https://, quic://).
type Upstream interface {
	Exchange(ctx context.Context, msg *dns.Msg) (*dns.Msg, error)
	String() string
	io.Closer
}
