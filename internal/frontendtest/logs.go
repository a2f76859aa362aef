package frontendtest

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// Logs collects the text log lines of a server under test; it is safe for
// concurrent writers.
type Logs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Logger returns a debug-level text logger writing to l.
func (l *Logs) Logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// WaitFor waits up to 5 s until every one of subs has been logged and fails
// the test otherwise.
func (l *Logs) WaitFor(t testing.TB, subs ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, missing := l.String(), ""
		for _, s := range subs {
			if !strings.Contains(out, s) {
				missing = s
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not logged:\n%s", missing, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
