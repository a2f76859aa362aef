package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsServer serves /metrics, /healthz (the process runs), /readyz (the
// listeners are up and not draining) and /debug/limits (a LimitsReport).
type metricsServer struct {
	srv   *http.Server
	ln    net.Listener
	bind  string
	ready atomic.Bool
}

func newMetricsServer(addr string, reg *prometheus.Registry) *metricsServer {
	m := &metricsServer{bind: addr}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /debug/limits", debugLimits(reg))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !m.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	m.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	return m
}

func (m *metricsServer) start() error {
	ln, err := net.Listen("tcp", m.bind)
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

// debugLimits serves the LimitsReport of the gateway that owns reg, or 404
// when it has no rate_limit.
func debugLimits(reg *prometheus.Registry) http.Handler {
	if src, ok := published.Load(reg); ok {
		return src.(*limitsSource)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "rate_limit is not configured", http.StatusNotFound)
	})
}
