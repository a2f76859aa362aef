package h3

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/dnsward/dnsward/internal/testpki"
)

type stateKey struct{}

type nopState struct{}

func (nopState) Begin(time.Time) {}

// TestRecycledRequestsTrimmed: a connection keeps the state of the requests
// a burst needed while it stays busy, so requests under load do not build
// theirs afresh, and keeps no more than keepIdle once idle for trimAfter.
func TestRecycledRequestsTrimmed(t *testing.T) {
	const burst = 32
	var entered atomic.Int32
	gate := make(chan struct{})
	srv, client, url := serveTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Add(1)
		<-gate
		io.WriteString(w, "ok")
	}))

	var wg sync.WaitGroup
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(url)
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); entered.Load() < burst; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d requests reached the handler", entered.Load(), burst)
		}
	}
	close(gate)
	wg.Wait()
	free := func() int {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		n := 0
		for c := range srv.conns {
			c.mu.Lock()
			n += len(c.free)
			c.mu.Unlock()
		}
		return n
	}
	for deadline := time.Now().Add(trimAfter / 2); free() < burst; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d recycled requests kept just after a burst of %d, want all", free(), burst)
		}
	}
	time.Sleep(trimAfter + 300*time.Millisecond)
	if n := free(); n > keepIdle {
		t.Fatalf("%d recycled requests kept after %v idle, want at most %d", n, trimAfter, keepIdle)
	}
}

// serveTest serves handler over HTTP/3 on loopback and returns the server,
// a client and the URL to ask.
func serveTest(t *testing.T, handler http.Handler) (*Server, *http.Client, string) {
	pki := testpki.New(t, "dns.test")
	tlsConf := pki.Server.Clone()
	tlsConf.NextProtos = []string{"h3"}
	ln, err := quic.ListenAddr("127.0.0.1:0", tlsConf, &quic.Config{MaxIncomingStreams: 100})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Handler: handler, MaxHeaderBytes: 8192, MaxBody: 65536, ReadTimeout: 5 * time.Second, IdleTimeout: time.Minute,
		WriteTimeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler),
		Dispatch: func(Job) bool { return false }, StateKey: stateKey{},
		NewState: func(context.Context, string) State { return nopState{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		ln.Close()
	})
	rt := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.Pool, ServerName: "dns.test", NextProtos: []string{"h3"}}}
	t.Cleanup(func() { rt.Close() })
	return srv, &http.Client{Transport: rt, Timeout: 5 * time.Second}, "https://" + ln.Addr().String() + "/dns-query"
}

// TestCancelledContextNotReused: a request whose client gives up while its
// handler runs has its context cancelled, and that context stays cancelled
// for whatever still holds it: the connection's next request gets another.
func TestCancelledContextNotReused(t *testing.T) {
	ctxs := make(chan context.Context, 2)
	srv, client, url := serveTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctxs <- r.Context()
		if r.URL.Query().Has("wait") {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
		io.WriteString(w, "ok")
	}))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"?wait", nil)
	errc := make(chan error, 1)
	go func() {
		_, err := client.Do(req)
		errc <- err
	}()
	first := <-ctxs
	cancel() // the client resets the stream
	if err := <-errc; err == nil {
		t.Fatal("the cancelled request got an answer")
	}
	select {
	case <-first.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the abandoned request's context was not cancelled")
	}
	// the first request is recycled once its handler returns
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		srv.mu.Lock()
		n := 0
		for c := range srv.conns {
			c.mu.Lock()
			n += len(c.free)
			c.mu.Unlock()
		}
		srv.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the abandoned request was not recycled")
		}
	}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if second := <-ctxs; second == first {
		t.Error("the next request reused the cancelled context")
	}
	if first.Err() == nil {
		t.Error("the cancelled context is no longer cancelled")
	}
}
