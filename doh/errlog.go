package doh

import (
	"log"
	"log/slog"
	"strings"

	"github.com/dnsward/dnsward/internal/frontend"
)

// errorLog receives net/http's server log lines, counts failed TLS
// handshakes and forwards the lines to slog with client addresses removed.
type errorLog struct {
	log *slog.Logger
	m   *metrics
}

func newErrorLog(l *slog.Logger, m *metrics) *log.Logger {
	return log.New(errorLog{log: l, m: m}, "", 0)
}

// Write logs one line.
func (e errorLog) Write(p []byte) (int, error) {
	msg := frontend.RedactAddrs(strings.TrimSpace(string(p)))
	switch {
	case strings.HasPrefix(msg, "http: TLS handshake error"):
		e.m.handshake("tcp", "error")
		e.log.Debug("doh: " + msg)
	case strings.HasPrefix(msg, "http: panic"):
		e.log.Error("doh: " + msg)
	default:
		e.log.Debug("doh: " + msg)
	}
	return len(p), nil
}
