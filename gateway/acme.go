package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/certs"
	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/sockets"
)

// defaultACMEHTTPPort is where ACME CAs send HTTP-01 validations (RFC 8555
// §8.3) when tls.acme.http_port is unset.
const defaultACMEHTTPPort = 80

// acmeHTTP is acme mode's plain-HTTP listener (tls.acme.http_port). It
// answers ACME HTTP-01 validations and redirects every other request, such
// as a browser typing the server name, to https.
type acmeHTTP struct {
	addrs    []string // host:port, one per address the encrypted front-ends use
	srv      *http.Server
	log      *slog.Logger
	requests *prometheus.CounterVec

	wg sync.WaitGroup // one Serve per address
}

// newACMEHTTP builds the HTTP-01 listener when the certificates come from
// ACME and http-01 is among the challenges (an empty list means both); it
// returns nil otherwise. Nothing is bound before start.
func (g *Gateway) newACMEHTTP() (*acmeHTTP, error) {
	acme := g.cfg.TLS.ACME
	if g.certs == nil || certs.Mode(g.cfg.TLS.Mode) != certs.ModeACME ||
		(len(acme.Challenges) > 0 && !slices.Contains(acme.Challenges, certs.ChallengeHTTP)) {
		return nil, nil
	}
	port := acme.HTTPPort
	if port == 0 {
		port = defaultACMEHTTPPort
	}
	a := &acmeHTTP{
		addrs: acmeHTTPAddrs(g.cfg.Listen, port),
		log:   g.log.With("component", "acme-http"),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dnsward_acme_http_requests_total",
			Help: "Requests on the ACME HTTP-01 listener: kind=challenge under /.well-known/acme-challenge/, kind=redirect for the rest (sent to https).",
		}, []string{"kind"}),
	}
	if err := g.registry.Register(a.requests); err != nil {
		return nil, fmt.Errorf("gateway: acme http-01 listener: %w", err)
	}
	a.srv = &http.Server{
		Handler:           a.count(g.certs.HTTPHandler(nil)),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          frontend.ErrorLog(a.log, slog.LevelDebug, "acme http-01: "),
	}
	return a, nil
}

// acmeHTTPAddrs returns port on every host the encrypted front-ends listen
// on, since a CA validates HTTP-01 at the address the name resolves to. An
// unspecified address (0.0.0.0, ::) already covers the specific ones, which
// could not be bound beside it.
func acmeHTTPAddrs(l config.Listen, port int) []string {
	var hosts, wildcards []netip.Addr
	for _, a := range slices.Concat(l.DoH, l.DoT, l.DoQ) {
		host := netip.MustParseAddrPort(a).Addr() // validated by config
		switch {
		case host.IsUnspecified() && !slices.Contains(wildcards, host):
			wildcards = append(wildcards, host)
		case !host.IsUnspecified() && !slices.Contains(hosts, host):
			hosts = append(hosts, host)
		}
	}
	if len(wildcards) > 0 {
		hosts = wildcards
	}
	addrs := make([]string, len(hosts))
	for i, h := range hosts {
		addrs[i] = net.JoinHostPort(h.String(), strconv.Itoa(port))
	}
	return addrs
}

// count labels each request for dnsward_acme_http_requests_total before
// next answers it.
func (a *acmeHTTP) count(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := "redirect"
		if certmagic.LooksLikeHTTPChallenge(r) {
			kind = "challenge"
			a.log.Debug("acme http-01 validation request", "path", r.URL.Path)
		}
		a.requests.WithLabelValues(kind).Inc()
		next.ServeHTTP(w, r)
	})
}

// start binds every address, then serves them; if one cannot be bound, none
// stays open.
func (a *acmeHTTP) start() error {
	var lns []net.Listener
	for _, addr := range a.addrs {
		ln, err := sockets.Listen(context.Background(), &net.ListenConfig{}, "tcp", addr)
		if err != nil {
			for _, bound := range lns {
				bound.Close()
			}
			return fmt.Errorf("gateway: acme http-01 listener (tls.acme.http_port): %w", err)
		}
		lns = append(lns, ln)
	}
	for _, ln := range lns {
		a.wg.Go(func() {
			if err := a.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				a.log.Error("acme http-01 listener stopped", "addr", ln.Addr().String(), "error", err)
			}
		})
	}
	a.log.Info("answering acme http-01 validations and redirecting to https", "addrs", a.addrs)
	return nil
}

// Shutdown closes the listeners and waits for requests in flight until ctx
// ends.
func (a *acmeHTTP) Shutdown(ctx context.Context) error {
	err := a.srv.Shutdown(ctx)
	a.wg.Wait()
	return err
}
