package doh

import (
	"log"
	"log/slog"
	"regexp"
	"strings"
)

// addrPattern matches the IPv4 and bracketed IPv6 socket addresses that
// net/http and x/net/http2 put in their log lines.
var addrPattern = regexp.MustCompile(`\[[0-9A-Fa-f:.%a-z]+\](:\d+)?|\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b`)

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
	msg := addrPattern.ReplaceAllString(strings.TrimSpace(string(p)), "<client>")
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
