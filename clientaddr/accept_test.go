package clientaddr

import (
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// flakyListener fails its first failures Accepts with err, then hands out
// conns, then waits for Close.
type flakyListener struct {
	mu       sync.Mutex
	failures int
	err      error
	conns    []net.Conn
	calls    int
	closed   chan struct{}
	once     sync.Once
}

func (f *flakyListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	f.calls++
	if f.failures > 0 {
		f.failures--
		f.mu.Unlock()
		return nil, f.err
	}
	if len(f.conns) > 0 {
		c := f.conns[0]
		f.conns = f.conns[1:]
		f.mu.Unlock()
		return c, nil
	}
	f.mu.Unlock()
	<-f.closed
	return nil, net.ErrClosed
}

func (f *flakyListener) Close() error   { f.once.Do(func() { close(f.closed) }); return nil }
func (f *flakyListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 853} }

// TestListenerSurvivesAcceptErrors: out of file descriptors (or any other
// accept error but a closed listener), the Listener backs off and retries
// instead of closing for good.
func TestListenerSurvivesAcceptErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"EMFILE", &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}},
		{"ENFILE", &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.ENFILE)}},
		{"ECONNABORTED", &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.ECONNABORTED)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := net.Pipe()
			defer cli.Close()
			inner := &flakyListener{failures: 4, err: tc.err, conns: []net.Conn{srv}, closed: make(chan struct{})}
			l, err := NewListener(inner, ListenerConfig{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			select {
			case c, ok := <-acceptOne(t, l):
				if !ok {
					t.Fatal("Accept failed: the listener stopped on a transient error")
				}
				if g, ok := c.(*guardConn); !ok || g.Conn != srv {
					t.Fatalf("Accept returned %v, want the inner connection", c)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no connection accepted after the errors")
			}
			inner.mu.Lock()
			calls := inner.calls
			inner.mu.Unlock()
			if calls < 5 {
				t.Fatalf("inner Accept called %d times, want at least 5", calls)
			}
			// Closing still ends Accept.
			l.Close()
			if _, err := l.Accept(); err != net.ErrClosed {
				t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
			}
		})
	}
}
