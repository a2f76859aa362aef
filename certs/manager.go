package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// source is where a mode's certificates come from.
type source interface {
	// certificate picks the certificate for a handshake.
	certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error)
	// leaf returns the leaf served for name, nil if none is issued yet.
	leaf(name string) *x509.Certificate
	// check runs every CheckInterval after Start.
	check(r *reporter)
	// reload re-reads or re-checks certificates (SIGHUP).
	reload(r *reporter) error
}

// Manager serves the gateway's certificates to every TLS listener.
type Manager struct {
	cfg    Config
	report *reporter
	src    source
	local  *localCA    // self_signed mode and acme's fallback; nil in files mode
	acme   *acmeSource // nil unless acme mode

	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// ALPN protocol IDs of the listeners.
const (
	ALPNHTTP2   = "h2"
	ALPNHTTP11  = "http/1.1"
	ALPNHTTP3   = "h3"
	ALPNDoT     = "dot"
	ALPNDoQ     = "doq"
	alpnACMETLS = "acme-tls/1"
)

// New validates cfg and loads what is available without a network: the
// files, or the local CA (self_signed mode, and acme's fallback). Call Start
// once the listeners are up, and Close when done.
func New(cfg Config) (*Manager, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	m := &Manager{cfg: cfg, report: &reporter{log: cfg.Logger.With("component", "certs")}}
	switch cfg.Mode {
	case ModeFiles:
		m.src, err = openFilePair(cfg.CertFile, cfg.KeyFile, cfg.ServerName, m.report)
	default:
		m.local, err = openLocalCA(filepath.Join(cfg.DataDir, "self_signed"), cfg.names(), m.report.log)
		if err != nil {
			err = fmt.Errorf("data_dir: local CA: %w", err)
			break
		}
		m.src = m.local
		if cfg.Mode == ModeACME {
			m.acme, err = newACME(cfg, m.local, m.report)
			m.src = m.acme
		}
	}
	if err == nil {
		err = m.registerMetrics()
	}
	if err != nil {
		if m.acme != nil {
			m.acme.close()
		}
		return nil, fmt.Errorf("certs: %w", err)
	}
	if cfg.Mode == ModeSelfSigned {
		m.report.log.Info("serving self-signed certificates; clients must trust the CA file", "ca_file", m.CAFile())
	}
	return m, nil
}

// TLSConfig returns a new tls.Config for one listener with that listener's
// ALPN protocols (ALPNHTTP2, ALPNHTTP11, ALPNHTTP3, ALPNDoT, ALPNDoQ). In acme
// mode with tls-alpn-01, acme-tls/1 is added to every TCP listener (any list
// without h3 or doq) so the listener on tls_alpn_port answers validations.
// Certificates are picked per handshake, so renewals and reloads reach live
// listeners.
func (m *Manager) TLSConfig(nextProtos ...string) *tls.Config {
	protos := slices.Clone(nextProtos)
	quic := slices.Contains(protos, ALPNHTTP3) || slices.Contains(protos, ALPNDoQ)
	if m.acme != nil && m.cfg.ACME.uses(ChallengeTLSALPN) && !quic {
		protos = appendUnique(protos, alpnACMETLS)
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     protos,
		GetCertificate: m.getCertificate,
	}
}

// getCertificate is every listener's tls.Config.GetCertificate.
func (m *Manager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return m.src.certificate(hello)
}

// Start begins certificate management: ACME orders and renewals, polling of
// the files, renewal of the local leaf. Call it after the listeners are up.
// Management stops when ctx ends or on Close.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("certs: Start after Close")
	}
	if m.started {
		return errors.New("certs: Start called twice")
	}
	m.started = true
	ctx, m.cancel = context.WithCancel(ctx)
	if m.acme != nil {
		if err := m.acme.start(ctx); err != nil {
			return fmt.Errorf("certs: %w", err)
		}
	}
	m.wg.Go(func() {
		t := time.NewTicker(m.cfg.CheckInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m.src.check(m.report)
			}
		}
	})
	return nil
}

// Reload re-reads the certificate files (files mode) or re-checks the local
// leaf; on error the current certificate stays in service. Wire it to SIGHUP.
func (m *Manager) Reload() error {
	if err := m.src.reload(m.report); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	return nil
}

// CAFile is the path of the local CA certificate in self_signed mode, for
// clients to trust; "" in the other modes.
func (m *Manager) CAFile() string {
	if m.cfg.Mode != ModeSelfSigned {
		return ""
	}
	return m.local.caFile()
}

// Close stops certificate management. Listeners keep serving the last
// certificate. It is safe to call more than once.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	if m.cancel != nil {
		m.cancel()
	}
	m.mu.Unlock()
	m.wg.Wait()
	if m.acme != nil {
		m.acme.close()
	}
	return nil
}
