package doh

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// FuzzH2Frames feeds arbitrary bytes to the HTTP/2 engine after a valid
// preface and SETTINGS: it must never panic, and it must end the connection
// promptly once the client goes away.
func FuzzH2Frames(f *testing.F) {
	var seed bytes.Buffer
	fr := http2.NewFramer(&seed, nil)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, kv := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "dns.test"},
		{":path", dohURL("", "", "/dns-query", query(f, "a.test.", dns.TypeA, 0, 0))[len("://"):]}} {
		_ = enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
	f.Add(bytes.Clone(seed.Bytes()))
	_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: hb.Bytes()[:4]})
	_ = fr.WriteContinuation(3, true, hb.Bytes()[4:])
	_ = fr.WriteRSTStream(3, http2.ErrCodeCancel)
	_ = fr.WriteWindowUpdate(0, 1000)
	_ = fr.WritePing(false, [8]byte{1})
	_ = fr.WriteData(5, true, []byte("body"))
	f.Add(bytes.Clone(seed.Bytes()))
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0})
	srv, err := New(Config{Handler: staticAnswer, Profiles: testProfiles(f), ReadTimeout: time.Second, IdleTimeout: time.Second})
	if err != nil {
		f.Fatal(err)
	}
	engine, err := srv.builtinH2()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, frames []byte) {
		client, server := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			ctx := context.WithValue(context.Background(), http.LocalAddrContextKey, server.LocalAddr())
			engine.ServeConn(ctx, server, &tls.ConnectionState{Version: tls.VersionTLS13})
			_ = server.Close()
		}()
		go func() { _, _ = io.Copy(io.Discard, client) }()
		_ = client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		var settings bytes.Buffer
		_ = http2.NewFramer(&settings, nil).WriteSettings()
		_, _ = client.Write(append(append([]byte(http2.ClientPreface), settings.Bytes()...), frames...))
		_ = client.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the server did not end the connection after the client went away")
		}
	})
}
