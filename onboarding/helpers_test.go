package onboarding

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// testConfig is a setup page with a filtered profile reached by path, host
// and address, an unfiltered default one, and the check on.
func testConfig() Config {
	return Config{
		ServiceName: "Example DNS", Contact: "ops@example.org", PrivacyURL: "https://example.org/privacy",
		Profiles: []Profile{
			{Name: "child", Blocks: []string{"adult", "malware"}, SafeSearch: true, DoHHost: "child.dns.example", DoHPath: "/child",
				DoTHost: "child.dns.example", DoHAddrs: serverAddrs, DoTAddrs: serverAddrs[:1], PlainAddrs: []netip.Addr{netip.MustParseAddr("192.0.2.3")}},
			{Name: "open", DoHHost: "dns.example", DoHPath: "/dns-query", DoTHost: "dns.example", DoHAddrs: serverAddrs[1:], DoTAddrs: serverAddrs[1:]},
		},
		DoTPort: 853, DNSPort: 53,
		CheckDomain: "check.example.net", Checks: NewChecks(0, 0),
	}
}

// serverAddrs are the test gateway's listener addresses.
var serverAddrs = []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}

// startPages serves cfg's pages over TLS on loopback.
func startPages(t testing.TB, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return s, srv
}

// get fetches path from srv, returning the response with its body read.
func get(t testing.TB, srv *httptest.Server, path string) (*http.Response, string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// selfSigned is a self-signed ECDSA certificate and key for dns.example.
func selfSigned(t testing.TB) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dns.example"}, DNSNames: []string{"dns.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
