package frontendtest

import (
	"crypto/tls"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dnsward/dnsward/ratelimit"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/testpki"
	"github.com/dnsward/dnsward/resolver"
)

// Env is what a DoT or DoQ server test starts from: the Config fields both
// transports require (a listen address on 127.0.0.1:0, a certificate, a
// Handler, the test Profiles), a discarding logger, a fresh metrics
// registry and, for a running server, its certificates, upstream and
// address.
type Env struct {
	frontend.Common
	Logger *slog.Logger
	Reg    *prometheus.Registry
	PKI    *testpki.PKI
	Up     *Upstream
	Addr   string // the server's first listen address, once started
}

// Server is a transport server under test.
type Server interface {
	dnstest.Server
	Addrs() []net.Addr
}

// Start runs a server until the test ends: its certificate covers Names,
// its Handler forwards to a new Upstream and delays names starting with
// "slow" by delay. build turns the Env into the transport's Config, mutate
// (when not nil) changes that, newServer makes the server.
func Start[C any, S Server](t testing.TB, delay time.Duration, build func(*Env) C, mutate func(*C), newServer func(C) (S, error)) (*Env, S) {
	t.Helper()
	pki := testpki.New(t, Names...)
	up := StartUpstream(t)
	e := newEnv(t, pki.Server, &Handler{Upstream: up.Addr, Delay: delay})
	e.PKI, e.Up = pki, up
	cfg := build(e)
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := newServer(cfg)
	dnstest.Run(t, srv, err)
	e.Addr = srv.Addrs()[0].String()
	return e, srv
}

func newEnv(t testing.TB, tlsConf *tls.Config, h resolver.Handler) *Env {
	return &Env{
		Common: frontend.Common{Addrs: []string{"127.0.0.1:0"}, TLS: tlsConf, Handler: h, Profiles: Profiles(t)},
		Logger: slog.New(slog.DiscardHandler),
		Reg:    prometheus.NewRegistry(),
	}
}

// ConfigErrors checks, in a subtest per case, that newServer rejects a valid
// config changed by the case with an error prefixed "transport: "; a first
// case, "no cert", gives it a TLS config without a certificate. Each config
// is built (see Start) from an Env of its own. It returns a valid config.
func ConfigErrors[C, S any](t *testing.T, transport string, build func(*Env) C, newServer func(C) (S, error), cases map[string]func(*C)) C {
	t.Helper()
	cert := testpki.New(t, "dns.test").Server
	check := func(name string, tlsConf *tls.Config, mutate func(*C)) {
		t.Run(name, func(t *testing.T) {
			c := build(newEnv(t, tlsConf, &Handler{}))
			mutate(&c)
			if _, err := newServer(c); err == nil || !strings.HasPrefix(err.Error(), transport+": ") {
				t.Fatalf("err = %v", err)
			}
		})
	}
	check("no cert", &tls.Config{}, func(*C) {})
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		check(name, cert, cases[name])
	}
	return build(newEnv(t, cert, &Handler{}))
}

// Conns is a connection admission allowing perPrefix connections per client
// prefix, as the gateway builds it, for a transport's Config.Conns.
func Conns(t testing.TB, perPrefix int) *ratelimit.Conns {
	t.Helper()
	c, err := ratelimit.NewConns(ratelimit.ConnsConfig{Limits: ratelimit.Limits{MaxConns: perPrefix}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
