package filter

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/misptest"
	"github.com/dnsward/dnsward/resolver"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const (
	testEvent = "20ce8968-0bed-5526-acb4-1d2ae90c42d0"
	uuidBad   = "10614cdf-5507-47e7-b79f-95c3cb55a5b2"
	uuidHost  = "7722641a-52d3-4ae6-9f0a-11a7c423ec16"
)

// feedAttrs are a feed's attributes: bad.example (deleted when asked),
// login.host.example, an expired one and one with another tag.
func feedAttrs(now int64, badDeleted bool) []misptest.Attr {
	a := func(uuid, typ, value string, ts int64, tag string) misptest.Attr {
		return misptest.Attr{UUID: uuid, Type: typ, Value: value, Event: testEvent, ToIDS: true, Published: true, Timestamp: ts, Tags: []string{tag}}
	}
	bad := a(uuidBad, "domain", "bad.example", now, "tlp:white")
	bad.Deleted = badDeleted
	return []misptest.Attr{bad,
		a(uuidHost, "hostname", "login.host.example", now, "tlp:white"),
		a("3da35e52-cf82-47f2-980e-701c2ac49bb4", "domain", "old.example", now-48*3600, "tlp:white"),
	}
}

// blockedNames reports which of names pol blocks.
func blockedNames(pol resolver.Policy, names ...string) map[string]bool {
	out := map[string]bool{}
	for _, n := range names {
		out[n] = pol.Check(n, 1).Action == resolver.ActionBlock
	}
	return out
}

// TestMISPFeedRefresh: a feed is revalidated with its ETag, a deletion
// unblocks at the next pull, max_age drops old indicators, a malformed
// manifest keeps the last good set and counts the error, and a restart
// with MISP down serves the set kept in DataDir.
func TestMISPFeedRefresh(t *testing.T) {
	now := time.Now().Unix()
	srv := misptest.Start("", false, feedAttrs(now, false)...)
	defer srv.Close()
	dataDir := t.TempDir()
	src := MISPSource{Name: "cert-feed", Feed: srv.URL + "/feed/", Category: "malware", Tags: []string{"tlp:white"}, MaxAge: 24 * time.Hour}
	newManager := func() *Manager {
		m, err := NewManager(ManagerConfig{DataDir: dataDir, ThreatIntel: ThreatIntelConfig{MISP: []MISPSource{src}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Reload(); err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := newManager()
	pol, _ := m.Policy(PolicyConfig{Block: []string{"malware"}})
	ctx := context.Background()
	names := []string{"www.bad.example", "login.host.example", "old.example"}
	want := func(step string, bad, host bool) {
		t.Helper()
		got := blockedNames(pol, names...)
		if w := map[string]bool{"www.bad.example": bad, "login.host.example": host, "old.example": false}; fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s: blocked %v, want %v", step, got, w)
		}
	}
	if err := m.RefreshIntel(ctx); err != nil {
		t.Fatal(err)
	}
	want("first pull", true, true)
	if err := m.RefreshIntel(ctx); err != nil || srv.NotModified() != 1 {
		t.Errorf("second pull: %v, %d answers 304, want 1", err, srv.NotModified())
	}

	srv.Set(feedAttrs(now+1, true)...)
	if err := m.RefreshIntel(ctx); err != nil {
		t.Fatal(err)
	}
	want("after the deletion", false, true)

	srv.Override("/feed/manifest.json", `{"20ce8968-0bed-5526-acb4-1d2ae90c42d0": {"timestamp": `)
	if err := m.RefreshIntel(ctx); err == nil {
		t.Error("a malformed manifest was accepted")
	}
	want("malformed manifest", false, true)
	if got := testutil.ToFloat64(m.imetrics.errors.WithLabelValues("cert-feed", "parse")); got != 1 {
		t.Errorf("parse errors %v, want 1", got)
	}

	srv.SetDown(true)
	m = newManager() // from the copy in DataDir, nothing pulled
	pol, _ = m.Policy(PolicyConfig{Block: []string{"malware"}})
	want("restart with MISP down", false, true)
}

// TestMISPSightings: a blocked query notes its attribute; a flush sends
// each attribute once however often it was hit, the next interval sends
// again, and a failing MISP drops and counts without slowing Check.
func TestMISPSightings(t *testing.T) {
	now := time.Now().Unix()
	srv := misptest.Start("k3y", false, feedAttrs(now, false)...)
	defer srv.Close()
	m, err := NewManager(ManagerConfig{DataDir: t.TempDir(), ThreatIntel: ThreatIntelConfig{
		MISP:           []MISPSource{{Name: "cert-api", URL: srv.URL, APIKey: "k3y", Category: "malware", Sightings: true}},
		SightingSource: "node-a",
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := m.RefreshIntel(ctx); err != nil {
		t.Fatal(err)
	}
	pol, _ := m.Policy(PolicyConfig{Block: []string{"malware"}})
	for range 5 {
		blockedNames(pol, "a.bad.example", "b.bad.example", "login.host.example", "other.host.example")
	}
	m.FlushSightings(ctx)
	count := func() map[string]int {
		n := map[string]int{}
		for _, s := range srv.Sightings() {
			if s["type"] != "0" || s["source"] != "node-a" || len(s) != 4 {
				t.Errorf("sighting %v", s)
			}
			n[fmt.Sprint(s["uuid"])]++
		}
		return n
	}
	if got := count(); got[uuidBad] != 1 || got[uuidHost] != 1 || len(got) != 2 {
		t.Errorf("first interval: sightings %v, want one each of %s and %s", got, uuidBad, uuidHost)
	}
	blockedNames(pol, "bad.example")
	m.FlushSightings(ctx)
	if got := count(); got[uuidBad] != 2 || got[uuidHost] != 1 {
		t.Errorf("second interval: sightings %v", got)
	}

	srv.SetDown(true)
	start := time.Now()
	blockedNames(pol, "bad.example", "login.host.example")
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Errorf("Check took %s with MISP down", took)
	}
	m.FlushSightings(ctx)
	if got := testutil.ToFloat64(m.imetrics.dropped.WithLabelValues("cert-api")); got != 2 {
		t.Errorf("dropped %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.imetrics.sent.WithLabelValues("cert-api")); got != 3 {
		t.Errorf("sent %v, want 3", got)
	}
}

// TestWarninglistReload: Reload (SIGHUP) reads the warninglists again, so
// adding a false positive to one unblocks it without a pull.
func TestWarninglistReload(t *testing.T) {
	srv := misptest.Start("", false, feedAttrs(time.Now().Unix(), false)...)
	defer srv.Close()
	wl := t.TempDir() + "/list.json"
	write := func(list string) {
		if err := os.WriteFile(wl, []byte(`{"name": "local", "type": "hostname", "list": [`+list+`]}`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`"unrelated.example"`)
	m, err := NewManager(ManagerConfig{DataDir: t.TempDir(), ThreatIntel: ThreatIntelConfig{
		MISP: []MISPSource{{Name: "f", Feed: srv.URL + "/feed/", Category: "malware"}}, Warninglists: []string{wl}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.RefreshIntel(context.Background()); err != nil {
		t.Fatal(err)
	}
	pol, _ := m.Policy(PolicyConfig{Block: []string{"malware"}})
	if got := blockedNames(pol, "bad.example"); !got["bad.example"] {
		t.Fatal("bad.example not blocked")
	}
	write(`"bad.example"`)
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := blockedNames(pol, "bad.example"); got["bad.example"] {
		t.Error("bad.example still blocked after its warninglist entry was added and the lists reloaded")
	}
}
