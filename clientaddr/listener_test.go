package clientaddr

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/metricstest"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"
)

// acceptOne accepts one connection in the background.
func acceptOne(t *testing.T, l net.Listener) <-chan net.Conn {
	t.Helper()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(ch)
			return
		}
		ch <- c
	}()
	return ch
}

func TestListener(t *testing.T) {
	client := netip.MustParseAddrPort("192.0.2.7:1234")
	dest := netip.MustParseAddrPort("198.51.100.1:443")
	hdr, err := Header{Proxy, client, dest}.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	local, err := Header{Command: Local}.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	loopback := Trusted{netip.MustParsePrefix("127.0.0.0/8")}
	other := Trusted{netip.MustParsePrefix("10.0.0.0/8")}
	tls := []byte("\x16\x03\x01 a ClientHello")
	tests := []struct {
		name    string
		trusted Trusted
		inside  bool
		send    []byte
		// wantPeer: "" → the socket address; "closed" → no connection;
		// "refused" → accepted, but its first read fails (ErrUntrusted).
		wantPeer, wantLocal string
		proxied             bool
		reason              string // the rejection counted, if any
	}{
		{"trusted proxy header", loopback, false, hdr, client.String(), dest.String(), true, ""},
		{"trusted local command", loopback, false, local, "", "", true, ""},
		{"untrusted peer passes through", other, false, tls, "", "", false, ""},
		{"untrusted peer's header refused", other, false, hdr, "refused", "", false, ReasonUntrusted},
		{"trusted peer without header dropped", loopback, false, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "closed", "", false, ReasonMissing},
		{"trusted peer, garbled header dropped", loopback, false, append(append([]byte{}, hdr[:12]...), 0x99, 0, 0, 0), "closed", "", false, ReasonMalformed},
		{"inside: header before TLS still read", loopback, true, hdr, client.String(), dest.String(), true, ""},
		{"inside: TLS first handed over unread", loopback, true, tls, "", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			rejects, err := NewRejects(reg, "dot")
			if err != nil {
				t.Fatal(err)
			}
			l, err := NewListener(inner, ListenerConfig{Trusted: tt.trusted, Inside: tt.inside, HeaderTimeout: 2 * time.Second, Rejects: rejects})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			defer func() {
				for _, r := range []string{ReasonUntrusted, ReasonMissing, ReasonMalformed} {
					want := 0.0
					if r == tt.reason {
						want = 1
					}
					if got := metricstest.Value(t, reg, "dnsward_proxy_header_rejected_total", "transport", "dot", "reason", r); got != want {
						t.Errorf("rejected{reason=%s} = %v, want %v", r, got, want)
					}
				}
			}()
			accepted := acceptOne(t, l)
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write(append(tt.send, "payload"...)); err != nil {
				t.Fatal(err)
			}
			if tt.wantPeer == "closed" {
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if n, err := c.Read(make([]byte, 1)); err == nil {
					t.Fatalf("connection still open, read %d bytes", n)
				}
				return
			}
			var sc net.Conn
			select {
			case sc = <-accepted:
			case <-time.After(5 * time.Second):
				t.Fatal("nothing accepted")
			}
			defer sc.Close()
			if got := Proxied(sc); got != tt.proxied {
				t.Errorf("Proxied = %v, want %v", got, tt.proxied)
			}
			buf := make([]byte, len(tt.send)+len("payload"))
			if tt.wantPeer == "refused" {
				if _, err := io.ReadAtLeast(sc, buf, len("payload")); !errors.Is(err, ErrUntrusted) {
					t.Fatalf("reading an untrusted header: %v, want ErrUntrusted", err)
				}
				return
			}
			want, wantLocal := tt.wantPeer, tt.wantLocal
			if want == "" {
				want, wantLocal = c.LocalAddr().String(), c.RemoteAddr().String()
			}
			if got := sc.RemoteAddr().String(); got != want {
				t.Fatalf("RemoteAddr %s, want %s", got, want)
			}
			if got := sc.LocalAddr().String(); got != wantLocal {
				t.Fatalf("LocalAddr %s, want %s", got, wantLocal)
			}
			want = string(tt.send) + "payload" // what follows the header, or all that was sent
			if tt.proxied {
				want = "payload"
			}
			if _, err := io.ReadFull(sc, buf[:len(want)]); err != nil || string(buf[:len(want)]) != want {
				t.Fatalf("stream: %q (%v), want %q", buf[:len(want)], err, want)
			}
		})
	}
}

func TestListenerHeaderTimeout(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewListener(inner, ListenerConfig{Trusted: Trusted{netip.MustParsePrefix("127.0.0.0/8")}, HeaderTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	silent, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	// The silent connection is closed by the server once its header is late.
	_ = silent.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("silent trusted connection not closed by the server: %v", err)
	}
}

func TestListenerClose(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewListener(inner, ListenerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	accepted := acceptOne(t, l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if c, ok := <-accepted; ok {
		t.Fatalf("Accept returned %v after Close", c.RemoteAddr())
	}
	if _, err := net.Dial("tcp", l.Addr().String()); err == nil {
		t.Fatal("inner listener still open")
	}
}
