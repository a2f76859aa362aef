package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/testpki"
	"github.com/prometheus/client_golang/prometheus"
)

// logBuffer is a concurrency-safe log sink for asserting on log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTestManager builds a Manager with a captured log and its own registry,
// closed at the end of the test.
func newTestManager(t *testing.T, cfg Config) (*Manager, *logBuffer, *prometheus.Registry) {
	t.Helper()
	logs := &logBuffer{}
	reg := prometheus.NewRegistry()
	cfg.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg.Metrics = reg
	m, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m, logs, reg
}

// testWriter sends log output to t.Log so it shows with -v or on failure.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// serveEcho runs a TLS echo server on loopback with cfg and returns its
// address.
func serveEcho(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	serveEchoOn(t, ln)
	return ln.Addr().String()
}

// serveEchoOn echoes every connection accepted on ln until the test ends.
func serveEchoOn(t *testing.T, ln net.Listener) {
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				io.Copy(c, c)
			})
		}
	})
}

// handshake connects to addr with SNI name (none for ""), trusting roots
// (nil: no verification), and returns the connection state.
func handshake(addr, name string, roots *x509.CertPool, protos ...string) (tls.ConnectionState, error) {
	cfg := &tls.Config{ServerName: name, RootCAs: roots, NextProtos: protos, InsecureSkipVerify: roots == nil}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.ConnectionState(), nil
}

// poolFromFile loads a PEM CA file into a pool.
func poolFromFile(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	pool, err := LoadRoots(path)
	if err != nil {
		t.Fatal(err)
	}
	return pool
}

// waitFor polls cond every 50 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// issuePEM returns the PEM chain (leaf, CA) and key of a new leaf from ca
// for names, with the given serial and expiry.
func issuePEM(ca *testpki.CA, serial int64, notAfter time.Time, names ...string) (certPEM, keyPEM []byte) {
	return testpki.PEM(ca.Issue(testpki.Leaf{Names: names, Serial: serial, NotAfter: notAfter}))
}

// writeFile writes data to path via a rename, as deployment tools do.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := writeFileAtomic(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Chtimes(path, time.Now(), time.Now())
}

func itoa(i int) string { return strconv.Itoa(i) }

// tlsDial opens a verified TLS connection.
func tlsDial(addr, name string, roots *x509.CertPool) (*tls.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr,
		&tls.Config{ServerName: name, RootCAs: roots})
}

// echoLoop sends numbered messages on an echo connection and checks each
// reply until stop closes or max round trips are done (each bounded by a
// deadline, 20 ms apart).
func echoLoop(c *tls.Conn, stop <-chan struct{}, max int) error {
	buf := make([]byte, 8)
	for i := range max {
		select {
		case <-stop:
			return nil
		case <-time.After(20 * time.Millisecond):
		}
		msg := []byte(fmt.Sprintf("%08d", i))
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		if !bytes.Equal(buf, msg) {
			return fmt.Errorf("echo %q, want %q", buf, msg)
		}
	}
	return nil
}
