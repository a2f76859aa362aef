package doh

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/dnsward/dnsward/resolver"
	"github.com/miekg/dns"
)

// workerHandler builds a Handler answering through fn.
func workerHandler(t *testing.T, fn resolver.HandlerFunc) http.Handler {
	t.Helper()
	srv, err := New(Config{Handler: fn, Profiles: testProfiles(t)})
	if err != nil {
		t.Fatal(err)
	}
	return srv.Handler()
}

// getRequest is a GET for a.test.
func getRequest(t *testing.T) *http.Request {
	t.Helper()
	return httptest.NewRequest(http.MethodGet, dohURL("https", "dns.test", "/dns-query", query(t, "a.test.", dns.TypeA, 0, 0)), nil)
}

// TestWorkerPanic: a panic in the resolver chain reaches the caller's
// goroutine, where net/http recovers it, and the workers keep serving.
func TestWorkerPanic(t *testing.T) {
	h := workerHandler(t, func(_ context.Context, req *resolver.Request) (*dns.Msg, error) {
		if req.Msg.Question[0].Name == "boom.test." {
			panic("boom")
		}
		return staticAnswer(context.Background(), req)
	})
	for range 3 {
		func() {
			defer func() {
				if p := recover(); p != "boom" {
					t.Fatalf("recovered %v, want boom", p)
				}
			}()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet,
				dohURL("https", "dns.test", "/dns-query", query(t, "boom.test.", dns.TypeA, 0, 0)), nil))
		}()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, getRequest(t))
		if rec.Code != http.StatusOK {
			t.Fatalf("after a panic: status %d", rec.Code)
		}
	}
}

// TestWorkersBusy: with more requests in flight than workers, the rest run
// on their own goroutines, so all of them are in the resolver at once.
func TestWorkersBusy(t *testing.T) {
	n := int(maxWorkers) + 8
	var entered sync.WaitGroup
	entered.Add(n)
	release := make(chan struct{})
	h := workerHandler(t, func(ctx context.Context, req *resolver.Request) (*dns.Msg, error) {
		entered.Done()
		<-release
		return staticAnswer(ctx, req)
	})
	codes := make(chan int, n)
	for range n {
		go func() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, getRequest(t))
			codes <- rec.Code
		}()
	}
	all := make(chan struct{})
	go func() { entered.Wait(); close(all) }()
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		t.Fatalf("not all %d requests reached the resolver together (workers: %d)", n, maxWorkers)
	}
	close(release)
	for range n {
		if c := <-codes; c != http.StatusOK {
			t.Fatalf("status %d", c)
		}
	}
}
