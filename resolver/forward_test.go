package resolver

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/miekg/dns"
)

// TestForwardStripsClientOptions: the query an upstream sees carries the
// question, RD set, the client's DO and CD bits, UDP size 1232 and none of
// the client's EDNS options (Client Subnet, cookie, padding).
func TestForwardStripsClientOptions(t *testing.T) {
	var seen *dns.Msg
	up := HandlerFunc(func(_ context.Context, req *Request) (*dns.Msg, error) {
		seen = req.Msg.Copy()
		return aAnswer(60)(req.Msg)
	})
	h, err := New(Config{Upstream: upstreamFunc(up)})
	if err != nil {
		t.Fatal(err)
	}
	req := query("www.example.", dns.TypeA)
	q := req.Msg
	q.RecursionDesired, q.CheckingDisabled = false, true
	q.SetEdns0(4096, true)
	q.IsEdns0().Option = []dns.EDNS0{
		&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(198, 51, 100, 0)},
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"},
		&dns.EDNS0_PADDING{Padding: make([]byte, 16)},
	}
	if _, err := h.ServeDNS(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	opt := seen.IsEdns0()
	switch {
	case opt == nil:
		t.Fatal("no OPT record upstream")
	case len(opt.Option) != 0:
		t.Errorf("client options forwarded: %v", opt.Option)
	case opt.UDPSize() != AdvertisedUDPSize || !opt.Do():
		t.Errorf("OPT upstream: size %d, DO %v; want %d, true", opt.UDPSize(), opt.Do(), AdvertisedUDPSize)
	case !seen.RecursionDesired || !seen.CheckingDisabled || seen.Question[0] != q.Question[0]:
		t.Errorf("upstream query: %v", seen)
	}
}

// TestServfailEDE: when the upstreams fail, the answer is SERVFAIL with EDE
// 22 (No Reachable Authority) for a timeout and 23 (Network Error) otherwise.
func TestServfailEDE(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want uint16
	}{
		{"timeout", context.DeadlineExceeded, EDENoReachableAuthority},
		{"network error", errors.New("connection refused"), EDENetworkError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := HandlerFunc(func(context.Context, *Request) (*dns.Msg, error) { return nil, tc.err })
			h, err := New(Config{Upstream: upstreamFunc(up)})
			if err != nil {
				t.Fatal(err)
			}
			req := query("www.example.", dns.TypeA)
			req.Msg.SetEdns0(1232, false)
			resp, err := h.ServeDNS(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			ede, ok := EDE(resp)
			if resp.Rcode != dns.RcodeServerFailure || !ok || ede.InfoCode != tc.want {
				t.Fatalf("answer %v, want SERVFAIL with EDE %d", resp, tc.want)
			}
		})
	}
}
