package frontend

import (
	"context"
	"log"
	"log/slog"
	"regexp"
	"strings"
)

// addrPattern matches the IPv4 and bracketed IPv6 addresses, with or
// without a port, that net errors and net/http log lines print.
var addrPattern = regexp.MustCompile(`\[[0-9A-Fa-f:.%a-z]+\](:\d+)?|\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b`)

// RedactAddrs replaces every socket address in s with "<addr>": dnsward
// logs no client address, and network errors name both ends of a socket.
func RedactAddrs(s string) string { return addrPattern.ReplaceAllString(s, "<addr>") }

// ErrAttr is the "err" log attribute for err, its addresses redacted.
func ErrAttr(err error) slog.Attr { return slog.String("err", RedactAddrs(err.Error())) }

// ErrorLog is a log.Logger for a library's error lines (http.Server's
// ErrorLog) that writes them to l at level with their addresses redacted:
// net/http names the client in lines such as "http: panic serving
// 192.0.2.1:1234".
func ErrorLog(l *slog.Logger, level slog.Level, prefix string) *log.Logger {
	return log.New(errorLog{l: l, level: level, prefix: prefix}, "", 0)
}

type errorLog struct {
	l      *slog.Logger
	level  slog.Level
	prefix string
}

func (e errorLog) Write(p []byte) (int, error) {
	e.l.Log(context.Background(), e.level, e.prefix+RedactAddrs(strings.TrimSpace(string(p))))
	return len(p), nil
}
