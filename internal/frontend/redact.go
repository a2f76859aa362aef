package frontend

import (
	"log/slog"
	"regexp"
)

// addrPattern matches the IPv4 and bracketed IPv6 addresses, with or
// without a port, that net errors and net/http log lines print.
var addrPattern = regexp.MustCompile(`\[[0-9A-Fa-f:.%a-z]+\](:\d+)?|\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b`)

// RedactAddrs replaces every socket address in s with "<addr>": dnsward
// logs no client address, and network errors name both ends of a socket.
func RedactAddrs(s string) string { return addrPattern.ReplaceAllString(s, "<addr>") }

// ErrAttr is the "err" log attribute for err, its addresses redacted.
func ErrAttr(err error) slog.Attr { return slog.String("err", RedactAddrs(err.Error())) }
