package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/quicvarint"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// TestDoHHTTP3Engine: doh.http3 picks the HTTP/3 server of listen.doh. The
// two tell themselves apart by their SETTINGS: dnsward's engine announces
// QPACK_MAX_TABLE_CAPACITY 0, quic-go's leaves it to its default and sends
// none.
func TestDoHHTTP3Engine(t *testing.T) {
	for _, tt := range []struct {
		setting      string
		wantCapacity bool
	}{
		{"", true},
		{"doh: {http3: stdlib}", false},
		{"doh: {http3: builtin}", true},
	} {
		t.Run(fmt.Sprintf("%q", tt.setting), func(t *testing.T) {
			addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
			dir := t.TempDir()
			g := runGateway(t, loadYAML(t, dir, fmt.Sprintf("listen: {doh: [%q]}\nupstreams: [udp://127.0.0.1:9]\ndata_dir: %s\ntls: {mode: self_signed}\n%s\n",
				addr, filepath.Join(dir, "data"), tt.setting)), nil)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			qc, err := quic.DialAddr(ctx, addr, &tls.Config{RootCAs: caPool(t, g), ServerName: "localhost", NextProtos: []string{"h3"}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer qc.CloseWithError(0, "")
			settings := serverSettings(ctx, t, qc)
			if _, got := settings[0x01]; got != tt.wantCapacity {
				t.Fatalf("QPACK_MAX_TABLE_CAPACITY sent: %v, want %v (settings %v)", got, tt.wantCapacity, settings)
			}
		})
	}
}

// serverSettings reads the SETTINGS on the server's control stream.
func serverSettings(ctx context.Context, t *testing.T, qc *quic.Conn) map[uint64]uint64 {
	t.Helper()
	for {
		str, err := qc.AcceptUniStream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(str)
		if typ, err := quicvarint.Read(br); err != nil || typ != 0x00 {
			continue // not the control stream
		}
		typ, _ := quicvarint.Read(br)
		n, err := quicvarint.Read(br)
		if err != nil || typ != 0x04 {
			t.Fatalf("first control frame %#x (%v), want SETTINGS", typ, err)
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatal(err)
		}
		s := map[uint64]uint64{}
		for len(p) > 0 {
			id, k, err := quicvarint.Parse(p)
			if err != nil {
				t.Fatal(err)
			}
			v, l, err := quicvarint.Parse(p[k:])
			if err != nil {
				t.Fatal(err)
			}
			s[id] = v
			p = p[k+l:]
		}
		return s
	}
}
