package certs

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// TestZapBridgeDropsPeerAddresses: certmagic logs the peer of every TLS
// handshake at debug level; the bridge must not pass client addresses on.
func TestZapBridgeDropsPeerAddresses(t *testing.T) {
	var buf bytes.Buffer
	z := newZapLogger(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	z.Debug("no certificate matching TLS ClientHello", zap.String("remote_ip", "192.0.2.7"), zap.String("remote_port", "5353"),
		zap.String("remote", "192.0.2.7:5353"), zap.String("server_name", "dns.example"))
	out := buf.String()
	if strings.Contains(out, "192.0.2.7") || strings.Contains(out, "5353") {
		t.Fatalf("peer address logged: %s", out)
	}
	if !strings.Contains(out, "server_name=dns.example") {
		t.Fatalf("other fields lost: %s", out)
	}
}
