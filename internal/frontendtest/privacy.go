package frontendtest

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/dnsward/dnsward/resolver"
)

// ClientIP is the loopback address privacy tests' clients connect from; the
// servers listen on 127.0.0.1, so the two never share a string.
const ClientIP = "127.0.0.2"

// FailQuery is a name whose queries fail in the handler Wire installs.
const FailQuery = "fail.example."

// Wire points a server Config's logger at l and wraps its handler so that
// queries for FailQuery fail (the server answers SERVFAIL and logs it).
func (l *Logs) Wire(logger **slog.Logger, handler *resolver.Handler) {
	*logger = l.Logger()
	*handler = FailName(*handler, FailQuery, errors.New("upstream unreachable"))
}

// NoClientIP fails the test if any line logged so far names ClientIP.
func (l *Logs) NoClientIP(t testing.TB) {
	t.Helper()
	if out := l.String(); strings.Contains(out, ClientIP) {
		t.Fatalf("client address in logs:\n%s", out)
	}
}
