package doh

import (
	"bytes"
	"crypto/tls"
	"io"
	"testing"

	"github.com/dnsward/dnsward/internal/testpki"
)

// tlsPair returns a server-side batchConn and the client's TLS connection over loopback.
func tlsPair(t *testing.T) (*batchConn, *tls.Conn) {
	t.Helper()
	pki := testpki.New(t, "localhost")
	l, err := tls.Listen("tcp", "127.0.0.1:0", pki.Server)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan *tls.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		tc := c.(*tls.Conn)
		if tc.Handshake() != nil {
			tc = nil
		}
		accepted <- tc
	}()
	client, err := tls.Dial("tcp", l.Addr().String(), pki.Client("localhost"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	sc := <-accepted
	if sc == nil {
		t.Fatal("server side of the handshake failed")
	}
	return newBatchConn(sc), client
}

// TestBatchConn: many Writes, more than maxPending in all, arrive whole and
// in order; Close sends what is still buffered; Write after Close fails.
func TestBatchConn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes int
		size   int
	}{
		{"small writes", 5000, 100},
		{"writes beyond maxPending", 40, maxPending / 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bc, client := tlsPair(t)
			got := make(chan []byte, 1)
			go func() {
				b, _ := io.ReadAll(client)
				got <- b
			}()
			var want bytes.Buffer
			for i := range tc.writes {
				p := bytes.Repeat([]byte{byte(i)}, tc.size)
				want.Write(p)
				if n, err := bc.Write(p); n != len(p) || err != nil {
					t.Fatalf("write %d: %d, %v", i, n, err)
				}
			}
			if err := bc.Close(); err != nil {
				t.Fatal(err)
			}
			if b := <-got; !bytes.Equal(b, want.Bytes()) {
				t.Fatalf("read %d bytes, want %d in the order written", len(b), want.Len())
			}
			if _, err := bc.Write([]byte("late")); err == nil {
				t.Fatal("Write after Close succeeded")
			}
		})
	}
}
