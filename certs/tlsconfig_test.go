package certs

import (
	"crypto/tls"
	"slices"
	"testing"
)

func TestTLSConfigPerListener(t *testing.T) {
	dir := t.TempDir()
	self, _, _ := newTestManager(t, Config{DataDir: dir})
	acme, _, _ := newTestManager(t, Config{Mode: ModeACME, ServerName: "dns.example.test", DataDir: t.TempDir(),
		ACME: ACMEConfig{CA: "https://127.0.0.1:1/dir"}})
	httpOnly, _, _ := newTestManager(t, Config{Mode: ModeACME, ServerName: "dns.example.test", DataDir: t.TempDir(),
		ACME: ACMEConfig{CA: "https://127.0.0.1:1/dir", Challenges: []string{ChallengeHTTP}}})
	tests := []struct {
		name   string
		m      *Manager
		protos []string
		want   []string
	}{
		{"self-signed doh", self, []string{ALPNHTTP2, ALPNHTTP11}, []string{"h2", "http/1.1"}},
		{"acme doh", acme, []string{ALPNHTTP2, ALPNHTTP11}, []string{"h2", "http/1.1", "acme-tls/1"}},
		{"acme dot", acme, []string{ALPNDoT}, []string{"dot", "acme-tls/1"}},
		{"acme h3", acme, []string{ALPNHTTP3}, []string{"h3"}},
		{"acme doq", acme, []string{ALPNDoQ}, []string{"doq"}},
		{"acme http-01 only", httpOnly, []string{ALPNHTTP2}, []string{"h2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.m.TLSConfig(tc.protos...)
			if !slices.Equal(cfg.NextProtos, tc.want) {
				t.Errorf("NextProtos %v, want %v", cfg.NextProtos, tc.want)
			}
			if cfg.MinVersion != tls.VersionTLS12 || cfg.SessionTicketsDisabled || cfg.GetCertificate == nil {
				t.Errorf("MinVersion %x, tickets disabled %v, GetCertificate set %v", cfg.MinVersion, cfg.SessionTicketsDisabled, cfg.GetCertificate != nil)
			}
		})
	}
	// Listeners do not share one config: changing one leaves the other.
	a, b := self.TLSConfig(ALPNDoT), self.TLSConfig(ALPNDoT)
	a.NextProtos[0] = "x"
	if b.NextProtos[0] != ALPNDoT {
		t.Error("TLSConfig results share their ALPN slice")
	}
}

func TestTLSHandshakeALPNVersionsAndResumption(t *testing.T) {
	m, _, _ := newTestManager(t, Config{ServerName: "dns.example.test", DataDir: t.TempDir()})
	addr := serveEcho(t, m.TLSConfig(ALPNDoT))
	roots := poolFromFile(t, m.CAFile())

	st, err := handshake(addr, "dns.example.test", roots, ALPNDoT)
	if err != nil || st.NegotiatedProtocol != ALPNDoT || st.Version != tls.VersionTLS13 {
		t.Fatalf("state %q %x, %v; want dot over TLS 1.3", st.NegotiatedProtocol, st.Version, err)
	}
	if _, err := handshake(addr, "dns.example.test", roots, "h2"); err == nil {
		t.Error("a client offering only h2 was accepted by a dot listener")
	}

	for _, v := range []struct {
		version uint16
		ok      bool
	}{{tls.VersionTLS11, false}, {tls.VersionTLS12, true}, {tls.VersionTLS13, true}} {
		c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "dns.example.test", RootCAs: roots, MinVersion: v.version, MaxVersion: v.version})
		if (err == nil) != v.ok {
			t.Errorf("TLS version %x: err %v, want ok=%v", v.version, err, v.ok)
		}
		if err == nil {
			c.Close()
		}
	}

	// Session tickets are on: a second connection resumes (TLS 1.2 and 1.3).
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cache := tls.NewLRUClientSessionCache(4)
		var resumed []bool
		for range 2 {
			c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: "dns.example.test", RootCAs: roots,
				ClientSessionCache: cache, MaxVersion: version})
			if err != nil {
				t.Fatal(err)
			}
			// TLS 1.3 tickets arrive after the handshake: exchange a byte.
			c.Write([]byte{1})
			c.Read(make([]byte, 1))
			resumed = append(resumed, c.ConnectionState().DidResume)
			c.Close()
		}
		if !slices.Equal(resumed, []bool{false, true}) {
			t.Errorf("TLS %x resumption %v, want [false true]", version, resumed)
		}
	}
}
