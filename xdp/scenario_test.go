package xdp

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dnsward/dnsward/internal/transport"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dnsward/dnsward/internal/netnstest"
	"github.com/dnsward/dnsward/ratelimit"
	"github.com/dnsward/dnsward/resolver"
)

// scenario is a flood from one client and legitimate queries from another,
// against a UDP DNS server limited by XDP (Mode native/generic) or by the
// userspace limiter (Mode "").
type scenario struct {
	mode       Mode
	limits     ratelimit.Limits
	floodPPS   int           // 0: as fast as the sender goes
	floodFor   time.Duration // the flood stops after this long …
	floodMax   int           // … or this many packets
	legit      int           // legitimate queries, one at a time
	legitTries int           // attempts per legitimate query (timeout 300ms each)
}

type outcome struct {
	floodSent, floodAnswered    int64
	legitAnswered, legitRetries int64
	serverReceived              int64 // packets the server's socket delivered
	floodTime                   time.Duration
	stats                       Stats              // XDP counters (XDP modes)
	limiter                     *ratelimit.Limiter // userspace mode
	reg                         *prometheus.Registry
}

var quiet = slog.New(slog.DiscardHandler)

// udpServer answers every query it reads (after lim, when set) with one A record.
func udpServer(conn *net.UDPConn, lim *ratelimit.Limiter, received *atomic.Int64) {
	buf := make([]byte, 2048)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		received.Add(1)
		if lim != nil && lim.AllowVia(transport.UDP, from.Addr()) != ratelimit.Pass {
			continue
		}
		var q dns.Msg
		if q.Unpack(buf[:n]) != nil || len(q.Question) != 1 {
			continue
		}
		r := resolver.NewReply(&q, dns.RcodeSuccess)
		r.Answer = append(r.Answer, &dns.A{Hdr: dns.RR_Header{Name: q.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)})
		if out, err := r.Pack(); err == nil {
			conn.WriteToUDPAddrPort(out, from)
		}
	}
}

func (s scenario) run(t testing.TB) outcome {
	t.Helper()
	n := netnstest.New(t)
	var o outcome
	o.reg = prometheus.NewRegistry()
	var srv, flood, legit *net.UDPConn
	var f *Filter
	err := netnstest.Do(n.Server, func() error {
		var err error
		if s.mode != "" {
			f, err = Attach(Config{Interfaces: []string{n.ServerIf}, Mode: s.mode, Limits: s.limits,
				Metrics: o.reg, Logger: quiet})
			if err != nil {
				return err
			}
		} else if o.limiter, err = ratelimit.New(ratelimit.Config{Limits: s.limits, Metrics: o.reg, Logger: quiet}); err != nil {
			return err
		}
		srv, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(netnstest.ServerAddr+":53")))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if f != nil {
		t.Cleanup(func() { f.Close() })
		if got := f.Attached(); len(got) != 1 || got[0].Mode != s.mode {
			t.Fatalf("attached %v, want %s mode", got, s.mode)
		}
	}
	srv.SetReadBuffer(1 << 20)
	var received atomic.Int64
	go udpServer(srv, o.limiter, &received)
	defer srv.Close()

	err = netnstest.Do(n.Client, func() error {
		to := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(netnstest.ServerAddr + ":53"))
		var err error
		if flood, err = net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(netnstest.FloodAddr)}, to); err != nil {
			return err
		}
		legit, err = net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(netnstest.LegitAddr)}, to)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer flood.Close()
	defer legit.Close()

	var wg sync.WaitGroup
	var floodAnswered atomic.Int64
	wg.Go(func() { // count the flooder's answers until its socket closes
		buf := make([]byte, 2048)
		for {
			if _, err := flood.Read(buf); err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			floodAnswered.Add(1)
		}
	})
	floodDone := make(chan struct{})
	wg.Go(func() {
		defer close(floodDone)
		q := query("flood.example.", 1)
		start := time.Now()
		const chunk = 64
		for o.floodSent < int64(s.floodMax) && time.Since(start) < s.floodFor {
			for range chunk {
				q[0], q[1] = byte(o.floodSent>>8), byte(o.floodSent)
				if _, err := flood.Write(q); err == nil {
					o.floodSent++
				}
			}
			if s.floodPPS > 0 { // pace: sleep until this many packets are due
				if ahead := time.Duration(o.floodSent)*time.Second/time.Duration(s.floodPPS) - time.Since(start); ahead > 0 {
					time.Sleep(ahead)
				}
			}
		}
		o.floodTime = time.Since(start)
	})

	buf := make([]byte, 2048)
	for i := range s.legit {
		q := query("legit.example.", uint16(i))
	tries:
		for try := range s.legitTries {
			if try > 0 {
				o.legitRetries++
			}
			legit.Write(q)
			legit.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			for {
				m, err := legit.Read(buf)
				if err != nil {
					break // timeout: try again
				}
				if m >= 2 && buf[0] == q[0] && buf[1] == q[1] {
					o.legitAnswered++
					break tries
				}
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	<-floodDone
	// Let the last answers arrive: wait until the counts stop moving.
	for last := int64(-1); last != floodAnswered.Load()+received.Load(); {
		last = floodAnswered.Load() + received.Load()
		time.Sleep(200 * time.Millisecond)
	}
	flood.Close()
	wg.Wait()
	o.floodAnswered, o.serverReceived = floodAnswered.Load(), received.Load()
	if f != nil {
		if o.stats, err = f.Stats(); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// expectedFloodAnswers is what a token bucket lets through in d.
func expectedFloodAnswers(l ratelimit.Limits, d time.Duration) float64 {
	return float64(l.Burst) + float64(l.QPS)*d.Seconds()
}
