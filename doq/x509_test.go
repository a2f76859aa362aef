package doq

import (
	"crypto/tls"
	"crypto/x509"
)

// x509Opts verifies the served chain for dns.test, for a client that sends an
// SNI the certificate does not cover.
func x509Opts(f *fixture, cs tls.ConnectionState) x509.VerifyOptions {
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	return x509.VerifyOptions{Roots: f.PKI.Pool, Intermediates: inter, DNSName: "dns.test"}
}
