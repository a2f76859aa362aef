package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dnsward/dnsward/internal/frontend"
	"github.com/dnsward/dnsward/internal/sockets"
)

// metricsServer serves /metrics, /healthz (the process runs), /readyz (the
// listeners are up and not draining) and /debug/limits (a LimitsReport).
type metricsServer struct {
	srv   *http.Server
	ln    net.Listener
	bind  string
	ready atomic.Bool
}

// newMetricsServer serves reg's metrics and, when limits is non-nil, the
// rate-limit report on /debug/limits.
func newMetricsServer(addr string, reg *prometheus.Registry, limits *limitsSource, stats http.Handler, log *slog.Logger) *metricsServer {
	m := &metricsServer{bind: addr}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /debug/limits", debugLimits(limits))
	mux.Handle("GET /debug/stats", stats)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !m.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: frontend.ErrorLog(log, slog.LevelDebug, "metrics: ")}
	return m
}

func (m *metricsServer) start() error {
	ln, err := sockets.Listen(context.Background(), &net.ListenConfig{}, "tcp", m.bind)
	if err != nil {
		return fmt.Errorf("gateway: metrics listener: %w", err)
	}
	m.ln = ln
	go func() {
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.ready.Store(false)
		}
	}()
	return nil
}

func (m *metricsServer) addr() string {
	if m.ln == nil {
		return m.bind
	}
	return m.ln.Addr().String()
}

func (m *metricsServer) setReady(v bool) { m.ready.Store(v) }

func (m *metricsServer) shutdown(ctx context.Context) error {
	if m.ln == nil {
		return nil
	}
	return m.srv.Shutdown(ctx)
}

// debugLimits serves the gateway's LimitsReport, or 404 when it has no
// rate_limit.
func debugLimits(limits *limitsSource) http.Handler {
	if limits != nil {
		return limits
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "rate_limit is not configured", http.StatusNotFound)
	})
}
