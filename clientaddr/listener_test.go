package clientaddr

import (
	"errors"
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
	hdr, err := Header{Proxy, client, netip.MustParseAddrPort("198.51.100.1:443")}.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	local, err := Header{Command: Local}.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	loopback := Trusted{netip.MustParsePrefix("127.0.0.0/8")}
	tests := []struct {
		name     string
		trusted  Trusted
		send     []byte
		wantPeer string // "" → the socket address; "closed" → no connection
	}{
		{"trusted proxy header", loopback, hdr, client.String()},
		{"trusted local command", loopback, local, ""},
		{"untrusted peer passes through", Trusted{netip.MustParsePrefix("10.0.0.0/8")}, nil, ""},
		{"trusted peer without header dropped", loopback, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			l, err := NewListener(inner, ListenerConfig{Trusted: tt.trusted, HeaderTimeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
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
			want := tt.wantPeer
			if want == "" {
				want = c.LocalAddr().String()
			}
			if got := sc.RemoteAddr().String(); got != want {
				t.Fatalf("RemoteAddr %s, want %s", got, want)
			}
			buf := make([]byte, len(tt.send)+len("payload"))
			n, _ := io.ReadAtLeast(sc, buf, len("payload"))
			if got := string(buf[:n]); got[len(got)-len("payload"):] != "payload" {
				t.Fatalf("stream after header: %q", got)
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
