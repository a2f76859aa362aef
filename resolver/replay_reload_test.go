package resolver_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/resolver"
	"github.com/dnsward/dnsward/resolver/filter"
	"github.com/dnsward/dnsward/resolver/upstream"
)

// TestReplayAfterListReload: an answer kept for replay is not replayed once
// a list reload blocks its name; the chain blocks it at once.
func TestReplayAfterListReload(t *testing.T) {
	dir := t.TempDir()
	list := filepath.Join(dir, "ads.txt")
	if err := os.WriteFile(list, []byte("other.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	up, err := upstream.New("udp://"+startUpstream(t), upstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	r, err := resolver.New(resolver.Config{Upstream: up, Cache: &resolver.CacheConfig{Size: 100}})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := filter.NewManager(filter.ManagerConfig{Lists: map[string][]filter.Source{"ads": {{Location: list}}}, OnSwap: r.PolicyChanged})
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer mgr.Close()
	pol, err := mgr.Policy(filter.PolicyConfig{Block: []string{"ads"}})
	if err != nil {
		t.Fatal(err)
	}
	prof := &resolver.Profile{Name: "noads", Policy: pol}
	q := new(dns.Msg)
	q.SetQuestion("www.example.", dns.TypeA)
	wire, _ := q.Pack()

	req := &resolver.Request{Msg: q, Transport: transport.DoT, Profile: prof}
	resp, err := r.ServeDNS(context.Background(), req)
	if err != nil || resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("before the reload: %v %v", resp, err)
	}
	ans, _ := resp.Pack()
	r.Sent(req, wire, ans)
	if _, _, ok := r.Replay(&resolver.Request{Transport: transport.DoT, Profile: prof}, wire, nil); !ok {
		t.Fatal("setup: the answer was not kept for replay")
	}

	if err := os.WriteFile(list, []byte("other.example\nwww.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := mgr.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := r.Replay(&resolver.Request{Transport: transport.DoT, Profile: prof}, wire, nil); ok {
		t.Fatal("replayed an answer kept before the reload")
	}
	resp, err = r.ServeDNS(context.Background(), &resolver.Request{Msg: q, Transport: transport.DoT, Profile: prof})
	if err != nil || resp.Rcode != dns.RcodeNameError {
		t.Fatalf("after the reload: %v %v, want NXDOMAIN (blocked)", resp, err)
	}
}
