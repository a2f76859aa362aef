package doh

import (
	"bytes"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/http2"
)

// TestH2ControlFrameFlood: a client that sends PINGs or SETTINGS without
// reading their acknowledgements is closed with ENHANCE_YOUR_CALM once
// 10,000 of them wait to be written (x/net's bound), well before the 15 s
// write timeout, instead of holding the connection until the 1 MiB output
// buffer and the write timeout end it.
func TestH2ControlFrameFlood(t *testing.T) {
	for _, tt := range []struct {
		name  string
		frame func(*http2.Framer) error
	}{
		{"PING", func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{1}) }},
		{"SETTINGS", func(fr *http2.Framer) error {
			return fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			env, _ := startH2Server(t, func(c *Config) { c.Metrics = reg })
			c := dialH2(t, env, []http2.Setting{})
			var batch bytes.Buffer
			fr := http2.NewFramer(&batch, nil)
			for range 20000 {
				c.check(tt.frame(fr))
			}
			start := time.Now()
			_ = c.conn.SetWriteDeadline(start.Add(30 * time.Second))
			done := make(chan error, 1)
			go func() { // never reads: the acknowledgements pile up on the server
				for range 200 { // at most 4 M frames
					if _, err := c.conn.Write(batch.Bytes()); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("the server took 4 M unanswered control frames without closing the connection")
				}
			case <-time.After(12 * time.Second):
				t.Fatal("the connection was still open after 12 s of flooding")
			}
			took := time.Since(start)
			if got := metricValue(t, reg, "dnsward_doh_http2_errors_total", "conn_ENHANCE_YOUR_CALM_control_frame_flood"); got != 1 {
				t.Fatalf("control_frame_flood counted %v times, want 1 (connection ended after %v)", got, took)
			}
			t.Logf("connection ended after %v", took)
		})
	}
}
