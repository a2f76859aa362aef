package upstream

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestTimeouts: silent servers of every protocol time out with KindTimeout
// (ErrNoReachableAuthority); a cancelled caller gets its own error.
func TestTimeouts(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) string
	}{
		{"udp", func(t *testing.T) string { return "udp://" + listenUDP(t).LocalAddr().String() }},
		{"tcp", func(t *testing.T) string { return "tcp://" + startStream(t, listenTCP(t), silent).addr }},
		{"tls", func(t *testing.T) string {
			return "tls://" + startStream(t, tlsListen(t), silent).addr + "#" + testServerName
		}},
		{"https", func(t *testing.T) string {
			return startDoH(t, silent).url
		}},
		{"quic", func(t *testing.T) string { return "quic://" + startDoQ(t, silent).addr }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := tt.start(t)
			opts := testOptions()
			opts.Timeout = 200 * time.Millisecond
			u := newUpstream(t, url, opts)

			r, err := u.Exchange(context.Background(), query("slow.test.", 1))
			var ue *Error
			if !errors.As(err, &ue) || ue.Kind != KindTimeout || !errors.Is(err, ErrNoReachableAuthority) ||
				!errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrNetwork) {
				t.Fatalf("options timeout: got %v, %v; want a timeout *Error", r, err)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if _, err := u.Exchange(ctx, query("slow.test.", 2)); !errors.As(err, &ue) || ue.Kind != KindTimeout {
				t.Fatalf("context deadline: got %v, want a timeout *Error", err)
			}

			// Cancelled mid-flight, with a timeout far enough away that a
			// late timer on a loaded machine cannot turn it into one.
			opts.Timeout = 10 * time.Second
			u = newUpstream(t, url, opts)
			ctx, cancel = context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
			_, err = u.Exchange(ctx, query("slow.test.", 3))
			if !errors.Is(err, context.Canceled) || errors.As(err, &ue) {
				t.Fatalf("cancelled: got %v, want context.Canceled and no *Error", err)
			}
		})
	}
}

// TestReconnect: after the server drops its connections the next query
// dials again; idle connections are closed by the client.
func TestReconnect(t *testing.T) {
	for _, tc := range []struct {
		name  string
		qname string
		// start returns the upstream URL, the server's connection count and
		// how to drop its connections after each query (nil: never).
		start func(t *testing.T) (url string, conns *atomic.Int64, drop func())
	}{
		{"tcp", "again.test.", func(t *testing.T) (string, *atomic.Int64, func()) {
			s := startStream(t, listenTCP(t), answerA)
			return "tcp://" + s.addr, &s.conns, s.dropAll
		}},
		// The server closes each connection when its second query arrives:
		// the client cannot know before writing, and retries once.
		{"tcp lost while reused", "lost.test.", func(t *testing.T) (string, *atomic.Int64, func()) {
			s := startStreamLimited(t, listenTCP(t), answerA, 1)
			return "tcp://" + s.addr, &s.conns, nil
		}},
		{"quic", "again.test.", func(t *testing.T) (string, *atomic.Int64, func()) {
			s := startDoQ(t, answerA)
			return "quic://" + s.addr, &s.conns, s.dropAll
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, conns, drop := tc.start(t)
			u := newUpstream(t, url, testOptions())
			for i := range 3 {
				q := query(tc.qname, uint16(i))
				r, err := u.Exchange(context.Background(), q)
				if err != nil {
					t.Fatalf("query %d: %v", i, err)
				}
				checkAnswer(t, q, r)
				if drop != nil {
					drop()
				}
			}
			if n := conns.Load(); n != 3 {
				t.Errorf("%d connections, want 3", n)
			}
		})
	}
	t.Run("idle close", func(t *testing.T) {
		s := startStream(t, listenTCP(t), answerA)
		opts := testOptions()
		opts.IdleTimeout = 100 * time.Millisecond
		u := newUpstream(t, "tcp://"+s.addr, opts)
		if _, err := u.Exchange(context.Background(), query("idle.test.", 1)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.closed:
		case <-time.After(5 * time.Second):
			t.Fatal("client kept an idle connection open for 5s with a 100ms idle timeout")
		}
	})
}
