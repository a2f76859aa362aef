package gateway

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/pseudonym"
	"github.com/dnsward/dnsward/querylog"
)

// clientWriter holds the Masker every output writes clients with; SIGHUP
// may change its mode.
type clientWriter struct {
	ids *pseudonym.Pseudonymizer // one for the process: ids stay stable across reloads
	cur atomic.Pointer[querylog.Masker]
}

// get returns the current masker.
func (c *clientWriter) get() *querylog.Masker { return c.cur.Load() }

// newQueryLog sets up the client masker and, with query_log sinks, the
// query log the resolver chain is given.
func (g *Gateway) newQueryLog() error {
	g.clients.ids = pseudonym.New(g.cfg.PseudonymK(), nil)
	g.setClientMode(g.cfg)
	q := g.cfg.QueryLog
	if q == nil || len(q.Sinks) == 0 {
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
	on := next.QueryLog != nil && len(next.QueryLog.Sinks) > 0
	if on != (g.qlog != nil) {
		return errors.New("gateway: query_log sinks added or removed: that takes effect on restart")
	}
	g.clients.ids.SetK(next.PseudonymK())
	g.setClientMode(next)
	if g.qlog == nil {
		return nil
	}
	if err := g.qlog.Update(next.QueryLogConfig(g.clients.get())); err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	return nil
}
