package readahead

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/frontendtest"
	"github.com/dnsward/dnsward/internal/testpki"
)

// pair returns both ends of a TLS connection on loopback; the client's
// writes can be held back and sent in one (frontendtest.RecordConn).
func pair(t *testing.T) (server *tls.Conn, client *tls.Conn, rc *frontendtest.RecordConn) {
	t.Helper()
	pki := testpki.New(t, "dns.test")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan *tls.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		tc := tls.Server(nc, pki.Server)
		if tc.Handshake() != nil {
			tc = nil
		}
		accepted <- tc
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	rc = &frontendtest.RecordConn{Conn: raw}
	client = tls.Client(rc, pki.Client("dns.test"))
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if server = <-accepted; server == nil {
		t.Fatal("server handshake failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return server, client, rc
}

// TestFill: three records that arrived in one segment are all taken into
// the buffer without a wait; asking for more returns false at once instead
// of waiting on the network, and the connection still reads what comes
// next (a passed deadline is a temporary error to crypto/tls).
func TestFill(t *testing.T) {
	server, client, rc := pair(t)
	rc.Hold()
	for range 3 {
		if _, err := client.Write([]byte("abcd")); err != nil { // a record each
			t.Fatal(err)
		}
	}
	if err := rc.Release(); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(server)
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.Peek(1); err != nil { // the first record, as a reader's wait would take it
		t.Fatal(err)
	}
	if br.Buffered() != 4 {
		t.Fatalf("one read of the TLS connection buffered %d bytes, want one record's 4", br.Buffered())
	}
	if !Fill(server, br, func() bool { return br.Buffered() >= 12 }) {
		t.Fatalf("Fill did not take the records already received: %d bytes buffered", br.Buffered())
	}
	start := time.Now()
	if Fill(server, br, func() bool { return br.Buffered() >= 13 }) {
		t.Fatal("Fill reported a byte that was never sent")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Fill waited %v on the network", d)
	}
	if _, err := client.Write([]byte("efgh")); err != nil {
		t.Fatal(err)
	}
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, 16)
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatalf("reading after Fill: %v", err)
	}
	if string(got) != "abcdabcdabcdefgh" {
		t.Fatalf("read %q", got)
	}
}

// TestFillDeadline: Fill leaves the deadline passed, so a read that would
// reach the socket fails at once until the caller arms its own.
func TestFillDeadline(t *testing.T) {
	server, _, _ := pair(t)
	br := bufio.NewReader(server)
	if Fill(server, br, func() bool { return br.Buffered() > 0 }) {
		t.Fatal("Fill found input where none was sent")
	}
	if _, err := br.Peek(1); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after Fill: %v, want a deadline error", err)
	}
}
