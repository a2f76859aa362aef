package gateway

import (
	"crypto/tls"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// TestDoHHTTP2Engine: doh.http2 picks the HTTP/2 server of listen.doh. The
// two tell themselves apart by their first SETTINGS: net/http's announces
// MAX_FRAME_SIZE (1 MiB), dnsward's engine keeps the 16 KiB default and
// sends none.
func TestDoHHTTP2Engine(t *testing.T) {
	for _, tt := range []struct {
		setting      string
		wantMaxFrame bool
	}{
		{"", false},
		{"doh: {http2: builtin}", false},
		{"doh: {http2: stdlib}", true},
	} {
		t.Run(fmt.Sprintf("%q", tt.setting), func(t *testing.T) {
			addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
			dir := t.TempDir()
			g := runGateway(t, loadYAML(t, dir, fmt.Sprintf("listen: {doh: [%q]}\nupstreams: [udp://127.0.0.1:9]\ndata_dir: %s\ntls: {mode: self_signed}\n%s\n",
				addr, filepath.Join(dir, "data"), tt.setting)), nil)
			conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: caPool(t, g), ServerName: "localhost", NextProtos: []string{"h2"}})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
				t.Fatal(err)
			}
			fr := http2.NewFramer(conn, conn)
			if err := fr.WriteSettings(); err != nil {
				t.Fatal(err)
			}
			f, err := fr.ReadFrame()
			if err != nil {
				t.Fatal(err)
			}
			sf, ok := f.(*http2.SettingsFrame)
			if !ok || sf.IsAck() {
				t.Fatalf("first frame %v, want SETTINGS", f)
			}
			if _, got := sf.Value(http2.SettingMaxFrameSize); got != tt.wantMaxFrame {
				t.Fatalf("MAX_FRAME_SIZE sent: %v, want %v", got, tt.wantMaxFrame)
			}
		})
	}
}
