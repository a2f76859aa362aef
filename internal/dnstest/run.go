package dnstest

import (
	"context"
	"testing"
	"time"
)

// Server is a dnsward server a test starts and stops: a transport (doh,
// dot, doq) or a whole gateway.
type Server interface {
	Start(context.Context) error
	Shutdown(context.Context) error
}

// Run starts srv, which its constructor returned with err, and shuts it
// down, allowing 5 s, when t ends. Any error fails the test.
func Run(t testing.TB, srv Server, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
}
