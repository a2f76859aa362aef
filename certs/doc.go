// Package certs serves the TLS certificates of every encrypted front-end
// (DoH over TCP and QUIC, DoT, DoQ) from one place.
//
// # Modes
//
//   - acme: certmagic obtains and renews certificates for server_name and every
//     profile host from any ACME CA, proving control by TLS-ALPN-01 or HTTP-01
//     on the gateway's own listeners, or by DNS-01 alone: TXT records added
//     and removed by TSIG-signed RFC 2136 updates (rfc2136.go), the only way
//     to a wildcard server_name. Until the first certificate exists, the
//     listeners serve the self-signed fallback described below.
//   - files: a full-chain certificate file and its key, re-read when either file
//     changes (mtime/size polled every CheckInterval) and on Reload (SIGHUP).
//     A bad new pair keeps the old one and logs why.
//   - self_signed: a local ECDSA P-256 CA and a leaf for server_name, the hosts,
//     localhost, 127.0.0.1 and ::1, kept in DataDir and reused across restarts.
//     CAFile returns the CA's PEM path so clients can trust it.
//
// # Start-up order
//
// Create the Manager, open every listener with TLSConfig / HTTPHandler, then
// call Start: TLS-ALPN-01 and HTTP-01 validations are then answered by the live
// listeners (certmagic sees the ports in use and does not bind its own).
//
// # Before the first ACME certificate exists
//
// GetCertificate never blocks a handshake waiting for the CA: issuance can take
// from half a second to hours (retries with back-off), and a handshake that
// waits ties up a goroutine and a socket per client and then times out anyway.
// Instead the listener serves the self-signed fallback (the same local CA as
// self_signed mode, kept in DataDir). Clients that do not trust it fail
// verification exactly as they would on a refused handshake; operators can
// still reach the service with the local CA, and each listener switches to the
// issued certificate on the next handshake after issuance, without a restart.
// A failed renewal keeps the current certificate in service.
//
// # Several nodes
//
// ACME state (account, certificates, locks) lives in certmagic's FileStorage
// under DataDir/certmagic. Mounting that directory on a shared volume (NFS, a
// Kubernetes ReadWriteMany volume) lets several nodes share certificates:
// certmagic's storage locks ensure only one node orders (or renews) a given
// certificate, the others load it from storage, and challenge tokens written
// to storage let any node answer a validation that another node started.
//
// # TLS details
//
// Every listener gets its own clone of the managed tls.Config with its own ALPN
// list, TLS 1.2 minimum (1.3 preferred by crypto/tls), and GetCertificate bound
// to the Manager so renewals and reloads reach live listeners. The full chain
// is always served. Session tickets stay on: SessionTicketKey is left unset, so
// crypto/tls generates ticket keys per listener config and rotates them every
// 24 hours, accepting tickets for 7 days (crypto/tls ticketKeyRotation and
// ticketKeyLifetime).
package certs
