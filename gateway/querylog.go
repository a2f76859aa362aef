package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"

	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/pseudonym"
	"github.com/dnsward/dnsward/querylog"
	"github.com/dnsward/dnsward/querystats"
	"github.com/dnsward/dnsward/resolver"
)

// clientWriter holds the Masker every output writes clients with; SIGHUP
// may change its mode.
type clientWriter struct {
	ids *pseudonym.Pseudonymizer // one for the process: ids stay stable across reloads
	cur atomic.Pointer[querylog.Masker]
}

// get returns the current masker.
func (c *clientWriter) get() *querylog.Masker { return c.cur.Load() }

// newQueryLog sets up the client masker and, with query_log, the
// statistics of `dnsward stats` (unless query_log.stats is false) and,
// with sinks, the query log.
func (g *Gateway) newQueryLog() error {
	g.clients.ids = pseudonym.New(g.cfg.PseudonymK(), nil)
	g.setClientMode(g.cfg)
	if g.cfg.StatsOn() {
		g.stats = querystats.New(nil)
		g.closers = append(g.closers, g.stats)
	}
	if q := g.cfg.QueryLog; q == nil || len(q.Sinks) == 0 {
		return nil
	}
	l, err := querylog.New(g.cfg.QueryLogConfig(g.clients.get()), g.log, g.registry)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.qlog = l
	g.closers = append(g.closers, l)
	return nil
}

// setClientMode applies cfg's query_log.client, warning about raw.
func (g *Gateway) setClientMode(cfg *config.Config) {
	mode := cfg.ClientMode()
	if mode == querylog.Raw {
		g.log.Warn("gateway: query_log.client is raw: client addresses are written to logs and reports")
	}
	g.clients.cur.Store(querylog.NewMasker(mode, g.clients.ids))
}

// reloadQueryLog applies next's query_log: the client mode, k (from the
// next UTC day on) and the sinks' settings. Adding or removing the query
// log's sinks takes a restart, since the resolver chain is built with or
// without it.
func (g *Gateway) reloadQueryLog(next *config.Config) error {
	// The client mode and k apply whatever else the reload says: a switch
	// away from raw must never wait for a restart.
	g.clients.ids.SetK(next.PseudonymK())
	g.setClientMode(next)
	on := next.QueryLog != nil && len(next.QueryLog.Sinks) > 0
	if on != (g.qlog != nil) || next.StatsOn() != (g.stats != nil) {
		return errors.New("gateway: query_log sinks or stats added or removed: that takes effect on restart")
	}
	if g.qlog == nil {
		return nil
	}
	if err := g.qlog.Update(next.QueryLogConfig(g.clients.get())); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}

// queryLog is what the resolver chain tells of every answer: the
// statistics and the query log, either, or nil.
func (g *Gateway) queryLog() resolver.QueryLog {
	switch {
	case g.stats != nil && g.qlog != nil:
		return bothLogs{g.stats, g.qlog}
	case g.stats != nil:
		return g.stats
	case g.qlog != nil:
		return g.qlog
	}
	return nil
}

// bothLogs tells two query logs.
type bothLogs [2]resolver.QueryLog

func (b bothLogs) Log(rec resolver.LogRecord) {
	b[0].Log(rec)
	b[1].Log(rec)
}

// debugStats serves GET /debug/stats[?top=N]: the querystats.Report, or 404
// without query_log.
func (g *Gateway) debugStats() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.stats == nil {
			http.Error(w, "query_log is not configured (or query_log.stats is false)", http.StatusNotFound)
			return
		}
		top, ok := topParam(w, r)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(g.stats.Report(top))
	})
}
