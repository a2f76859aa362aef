package filter

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dnsward/dnsward/resolver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// listServer serves one list with an ETag; it can be told to fail.
type listServer struct {
	mu     sync.Mutex
	body   string
	etag   string
	status int // 0: serve normally
	notMod int
}

func (s *listServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status != 0 {
		w.WriteHeader(s.status)
		return
	}
	if r.Header.Get("If-None-Match") == s.etag {
		s.notMod++
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", s.etag)
	_, _ = w.Write([]byte(s.body))
}

func (s *listServer) set(body, etag string, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.etag, s.status = body, etag, status
}

func blocks(t *testing.T, m *Manager, name string) bool {
	t.Helper()
	p, err := m.Policy(PolicyConfig{Block: []string{"ads"}})
	if err != nil {
		t.Fatal(err)
	}
	return p.Check(name, 1).Action == resolver.ActionBlock
}

func TestRemoteList(t *testing.T) {
	ls := &listServer{body: "||ads.example^\n", etag: `"v1"`}
	srv := httptest.NewServer(ls)
	defer srv.Close()
	data := t.TempDir()
	reg := prometheus.NewRegistry()
	cfg := ManagerConfig{
		Lists:   map[string][]Source{"ads": {{Location: srv.URL + "/ads.txt"}}},
		DataDir: data, RefreshInterval: time.Hour, Metrics: reg,
	}
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := m.Reload(); err != nil { // no copy yet: empty, not an error
		t.Fatal(err)
	}
	if blocks(t, m, "ads.example") {
		t.Fatal("blocking before the first download")
	}
	steps := []struct {
		name                string
		body, etag          string
		status              int
		wantErr             bool
		blocked, notBlocked string // a name that must block, one that must not
	}{
		{name: "first download", body: "||ads.example^\n", etag: `"v1"`, blocked: "x.ads.example", notBlocked: "new.example"},
		{name: "not modified", body: "||ads.example^\n", etag: `"v1"`, blocked: "ads.example", notBlocked: "new.example"},
		{name: "refresh", body: "||new.example^\n", etag: `"v2"`, blocked: "new.example", notBlocked: "ads.example"},
		{name: "server error keeps last good", status: http.StatusInternalServerError, wantErr: true, blocked: "new.example"},
		{name: "emptied list rejected", body: "! nothing left\n", etag: `"v3"`, wantErr: true, blocked: "new.example"},
		{name: "unparsable list rejected", body: "<html>oops</html>\n", etag: `"v4"`, wantErr: true, blocked: "new.example"},
	}
	for _, st := range steps {
		ls.set(st.body, st.etag, st.status)
		err := m.Refresh(ctx)
		if (err != nil) != st.wantErr {
			t.Fatalf("%s: Refresh error = %v, want error %v", st.name, err, st.wantErr)
		}
		if !blocks(t, m, st.blocked) {
			t.Errorf("%s: %s not blocked", st.name, st.blocked)
		}
		if st.notBlocked != "" && blocks(t, m, st.notBlocked) {
			t.Errorf("%s: %s blocked", st.name, st.notBlocked)
		}
	}
	if ls.notMod != 1 {
		t.Errorf("304 answers = %d, want 1", ls.notMod)
	}
	if got := testutil.ToFloat64(m.metrics.errors.WithLabelValues("ads", "download")); got != 1 {
		t.Errorf("download errors = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.metrics.errors.WithLabelValues("ads", "parse")) +
		testutil.ToFloat64(m.metrics.errors.WithLabelValues("ads", "empty")); got != 2 {
		t.Errorf("parse+empty errors = %v, want 2", got)
	}

	// A restart with the network down starts from the disk copy.
	srv.Close()
	m2, err := NewManager(ManagerConfig{Lists: cfg.Lists, DataDir: data, RefreshInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if !blocks(t, m2, "new.example") {
		t.Error("restart did not serve the cached copy")
	}
}

func TestLocalListWatchedAndReloaded(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ads.hosts")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("0.0.0.0 one.example\n")
	m, err := NewManager(ManagerConfig{
		Lists:   map[string][]Source{"ads": {{Location: "ads.hosts", Format: FormatHosts}}},
		BaseDir: dir, PollInterval: 20 * time.Millisecond, RefreshInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if !blocks(t, m, "one.example") {
		t.Fatal("relative local list not loaded")
	}
	write("0.0.0.0 two.example\n0.0.0.0 three.example\n")
	deadline := time.Now().Add(5 * time.Second)
	for !blocks(t, m, "two.example") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !blocks(t, m, "two.example") || blocks(t, m, "one.example") {
		t.Fatal("changed file not picked up by polling")
	}
	write("")
	if err := m.Reload(); err == nil {
		t.Error("Reload accepted an emptied list")
	}
	if !blocks(t, m, "two.example") {
		t.Error("emptied list replaced the last good one")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := m.Reload(); err == nil || !blocks(t, m, "three.example") {
		t.Errorf("missing file: err %v; previous list must keep serving", err)
	}
}

func TestManagerConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  ManagerConfig
	}{
		{"remote without data dir", ManagerConfig{Lists: map[string][]Source{"a": {{Location: "https://127.0.0.1/x"}}}}},
		{"empty location", ManagerConfig{Lists: map[string][]Source{"a": {{}}}}},
		{"missing local file", ManagerConfig{Lists: map[string][]Source{"a": {{Location: "missing.hosts"}}}, BaseDir: "testdata"}},
		{"unnamed category", ManagerConfig{Lists: map[string][]Source{"": nil}}},
		{"negative interval", ManagerConfig{PollInterval: -1}},
	}
	for _, tt := range tests {
		if _, err := NewManager(tt.cfg); err == nil {
			t.Errorf("%s: NewManager succeeded", tt.name)
		}
	}
	m, err := NewManager(ManagerConfig{Lists: map[string][]Source{"ads": nil}})
	if err != nil {
		t.Fatal(err)
	}
	for _, pc := range []PolicyConfig{
		{Block: []string{"nope"}},
		{Allow: []string{"bad..name"}},
		{BlockedAnswer: resolver.BlockedAnswer{Kind: resolver.BlockCustomIP}},
	} {
		if _, err := m.Policy(pc); err == nil {
			t.Errorf("Policy(%+v) succeeded", pc)
		}
	}
}

// stalledList answers a list request only once release is closed; started
// is closed when the request arrives.
type stalledList struct{ started, release chan struct{} }

func (s stalledList) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	close(s.started)
	<-s.release
	_, _ = w.Write([]byte("||ads.example^\n"))
}

// TestReloadNotHeldByDownload: a slow list download does not hold up a
// reload (SIGHUP) of the lists.
func TestReloadNotHeldByDownload(t *testing.T) {
	stall := stalledList{started: make(chan struct{}), release: make(chan struct{})}
	srv := httptest.NewServer(stall)
	defer srv.Close()
	m, err := NewManager(ManagerConfig{Lists: map[string][]Source{"ads": {{Location: srv.URL + "/ads.txt"}}}, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	refreshed := make(chan error, 1)
	go func() { refreshed <- m.Refresh(context.Background()) }()
	defer func() { close(stall.release); <-refreshed }() // the download ends before the test's folder goes
	<-stall.started                                      // Refresh is in the download now
	done := make(chan error, 1)
	go func() { done <- m.Reload() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Reload waited for a download in progress")
	}
}

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}

// warnings returns the messages logged at Warn or above.
func (l *logRecorder) warnings() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var msgs []string
	for _, r := range l.recs {
		if r.Level >= slog.LevelWarn {
			msgs = append(msgs, r.Message)
		}
	}
	return msgs
}

// TestUnreachableRemoteListAtStart: a remote list that cannot be downloaded
// at first start leaves its category empty. The manager starts anyway, says
// so in one warning (not "previous version keeps serving": there is none) and
// sets dnsward_filter_category_empty until a download succeeds.
func TestUnreachableRemoteListAtStart(t *testing.T) {
	ls := &listServer{status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(ls)
	defer srv.Close()
	logs := &logRecorder{}
	m, err := NewManager(ManagerConfig{
		Lists:   map[string][]Source{"ads": {{Location: srv.URL + "/ads.txt"}}},
		DataDir: t.TempDir(), RefreshInterval: time.Hour, Metrics: prometheus.NewRegistry(), Logger: slog.New(logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	empty := m.metrics.empty.WithLabelValues("ads")
	if err := m.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v; an unreachable remote list must not stop the start", err)
	}
	defer m.Close()
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(m.metrics.errors.WithLabelValues("ads", "download")) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	m.Close() // the first download attempt has ended; no other runs
	warns := logs.warnings()
	if len(warns) != 1 || !strings.Contains(warns[0], "never downloaded") || strings.Contains(warns[0], "previous version") {
		t.Fatalf("warnings %q, want one saying the list was never downloaded", warns)
	}
	if got := testutil.ToFloat64(empty); got != 1 {
		t.Fatalf("dnsward_filter_category_empty = %v, want 1", got)
	}
	ls.set("||ads.example^\n", `"v1"`, 0)
	if err := m.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !blocks(t, m, "ads.example") || testutil.ToFloat64(empty) != 0 {
		t.Fatalf("after a download: blocking %v, dnsward_filter_category_empty = %v", blocks(t, m, "ads.example"), testutil.ToFloat64(empty))
	}
}

// TestFirstFetchRetried: a remote list never downloaded is tried again after
// FirstFetchRetry, not only after RefreshInterval (its category would serve
// without it for 12 hours by default).
func TestFirstFetchRetried(t *testing.T) {
	ls := &listServer{status: http.StatusServiceUnavailable}
	srv := httptest.NewServer(ls)
	defer srv.Close()
	m, err := NewManager(ManagerConfig{
		Lists:   map[string][]Source{"ads": {{Location: srv.URL + "/ads.txt"}}},
		DataDir: t.TempDir(), RefreshInterval: time.Hour, FirstFetchRetry: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(m.metrics.errors.WithLabelValues("ads", "download")) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	ls.set("||ads.example^\n", `"v1"`, 0) // the network is back
	for !blocks(t, m, "ads.example") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !blocks(t, m, "ads.example") {
		t.Fatal("the list was not fetched again within 5s")
	}
}
