package frontend

import (
	"crypto/tls"
	"fmt"

	"github.com/dnsward/dnsward/resolver"
)

// RefuseClients makes t (a copy of it, returned) refuse the TLS handshake
// of a client whose server name carries a client ID that profiles refuse
// (resolver.Profiles.Identify): a malformed one, or an unlisted one under
// unknown_clients: refuse. The refusal happens on the ClientHello, before
// any query, and crypto/tls answers it with an internal_error alert (a
// QUIC CRYPTO_ERROR); the error names no ID, the client wrote it.
func RefuseClients(t *tls.Config, profiles *resolver.Profiles) *tls.Config {
	t = t.Clone()
	next := t.GetConfigForClient
	t.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if _, err := profiles.Identify(resolver.Ingress{ServerName: hello.ServerName}); err != nil {
			return nil, fmt.Errorf("server name refused: %w", err)
		}
		if next != nil {
			return next(hello)
		}
		return nil, nil
	}
	return t
}
