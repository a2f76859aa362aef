package gateway

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/internal/netnstest"
	"github.com/dnsward/dnsward/ratelimit"
)

// binGateway is a `dnsward serve` process in the server namespace of a
// netnstest.Net, plain DNS on ServerAddr:53 and metrics on its loopback.
type binGateway struct {
	bin, ns string
}

const binMetrics = "127.0.0.1:9153" // inside the server namespace

// startBinGateway writes a configuration with limits, udpReaders readers
// per UDP socket (0: the default) and, when xdpMode is not "", an xdp block
// for the server's veth, runs the binary and waits for its start-up banner.
func startBinGateway(t testing.TB, bin string, n *netnstest.Net, l ratelimit.Limits, xdpMode string, udpReaders int) *binGateway {
	t.Helper()
	dir := t.TempDir()
	yaml := fmt.Sprintf(`listen:
  dns: ["%s:53"]
  metrics: "%s"
  udp_readers: %d
upstreams: ["udp://127.0.0.1:5353"] # never used: every test name is under localhost.
data_dir: %s
log: {level: warn}
rate_limit: {qps: %d, burst: %d, slip: %d}
query_log: {client: raw, stats: false} # the tests compare the limited prefix; no per-query work added
`, netnstest.ServerAddr, binMetrics, udpReaders, dir, l.QPS, l.Burst, l.Slip)
	if xdpMode != "" {
		yaml += fmt.Sprintf("xdp: {interfaces: [%s], mode: %s}\n", n.ServerIf, xdpMode)
	}
	cfg := filepath.Join(dir, "dnsward.yaml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", n.Server, bin, "serve", "--config", cfg)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { // `ip netns exec` execs dnsward: this PID is the gateway's
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("dnsward did not stop on SIGTERM; stderr:\n%s", stderr.String())
		}
	})
	banner := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		seen := false
		for sc.Scan() {
			if !seen && strings.Contains(sc.Text(), "metrics") {
				seen = true
				banner <- true
			}
		}
		if !seen {
			banner <- false
		}
	}()
	select {
	case ok := <-banner:
		if !ok {
			t.Fatalf("dnsward exited before serving; stderr:\n%s", stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("dnsward did not start within 30s; stderr:\n%s", stderr.String())
	}
	return &binGateway{bin: bin, ns: n.Server}
}

// stats runs `dnsward xdp stats` in the gateway's namespace with args.
func (g *binGateway) stats(t testing.TB, args ...string) string {
	t.Helper()
	args = append([]string{"netns", "exec", g.ns, g.bin, "xdp", "stats", "--metrics", binMetrics}, args...)
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("dnsward xdp stats: %v\n%s", err, out)
	}
	return string(out)
}

// report reads /debug/limits through `dnsward xdp stats --json`.
func (g *binGateway) report(t testing.TB) *LimitsReport {
	t.Helper()
	var rep LimitsReport
	if out := g.stats(t, "--json"); json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("not a limits report: %s", out)
	}
	return &rep
}

// flood is a bounded flood from FloodAddr while LegitAddr asks legit
// queries one at a time; every name is under localhost., which the gateway
// answers itself.
type flood struct {
	pps        int           // packets per second; 0: as fast as one sender goes
	dur        time.Duration // the flood stops after this long …
	max        int           // … or this many packets
	legit      int           // legitimate queries
	legitTries int           // attempts per legitimate query, 300 ms each
}

// floodResult is what the clients saw.
type floodResult struct {
	sent          []time.Duration // when each flood packet left, since the flood began
	took          time.Duration
	answered, tc  int64 // flood answers: full, and empty TC=1 (slip)
	legitAnswered int64
	legitSent     int64 // retries included
}

func (f flood) run(t testing.TB, n *netnstest.Net) *floodResult {
	t.Helper()
	to := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(netnstest.ServerAddr + ":53"))
	var fc, lc *net.UDPConn
	err := netnstest.Do(n.Client, func() error {
		var err error
		if fc, err = net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(netnstest.FloodAddr)}, to); err != nil {
			return err
		}
		lc, err = net.DialUDP("udp4", &net.UDPAddr{IP: net.ParseIP(netnstest.LegitAddr)}, to)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	// Room for every answer even while the counting reader is starved of
	// CPU on a loaded machine (the tests run as root: forced past rmem_max).
	if raw, err := fc.SyscallConn(); err == nil {
		raw.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20) })
	}
	r := &floodResult{sent: make([]time.Duration, 0, f.max)}
	var answered, tc atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() { // count the flooder's answers until its socket closes
		buf := make([]byte, 2048)
		for {
			m, err := fc.Read(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err == nil && m >= dns.MinMsgSize/512*12 {
				if buf[2]&0x02 != 0 { // TC
					tc.Add(1)
				} else {
					answered.Add(1)
				}
			}
		}
	})
	floodDone := make(chan struct{})
	wg.Go(func() {
		defer close(floodDone)
		q := packQuery(t, "flood.localhost.", 0)
		start := time.Now()
		for len(r.sent) < f.max && time.Since(start) < f.dur {
			for range 32 {
				q[0], q[1] = byte(len(r.sent)>>8), byte(len(r.sent))
				if _, err := fc.Write(q); err == nil {
					r.sent = append(r.sent, time.Since(start))
				}
			}
			if f.pps > 0 { // pace: sleep until this many packets are due
				if ahead := time.Duration(len(r.sent))*time.Second/time.Duration(f.pps) - time.Since(start); ahead > 0 {
					time.Sleep(ahead)
				}
			}
		}
		r.took = time.Since(start)
	})

	time.Sleep(100 * time.Millisecond) // the flooder is over its burst by now
	buf := make([]byte, 2048)
	for i := range f.legit {
		q := packQuery(t, fmt.Sprintf("legit%d.localhost.", i), uint16(i))
	tries:
		for range f.legitTries {
			r.legitSent++
			lc.Write(q)
			lc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			for {
				m, err := lc.Read(buf)
				if err != nil {
					break // timeout: try again
				}
				if m >= 12 && buf[0] == q[0] && buf[1] == q[1] && buf[2]&0x02 == 0 {
					r.legitAnswered++
					break tries
				}
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	<-floodDone
	for last := int64(-1); last != answered.Load()+tc.Load(); { // until the last answers are in
		last = answered.Load() + tc.Load()
		time.Sleep(200 * time.Millisecond)
	}
	fc.Close()
	wg.Wait()
	r.answered, r.tc = answered.Load(), tc.Load()
	return r
}

func packQuery(t testing.TB, name string, id uint16) []byte {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	q.Id = id
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bucketModel replays send times through a token bucket with l's limits
// and returns how many packets pass and how many excess ones are answered
// with TC=1: what the limiter would decide had it seen the packets when
// they were sent.
func bucketModel(l ratelimit.Limits, sent []time.Duration) (pass, slipped int64) {
	tokens, last, excess := float64(l.Burst), time.Duration(0), int64(0)
	for _, at := range sent {
		tokens = min(float64(l.Burst), tokens+(at-last).Seconds()*float64(l.QPS))
		last = at
		if tokens >= 1 {
			tokens--
			pass++
			continue
		}
		excess++
		if l.Slip > 0 && excess%int64(l.Slip) == 0 {
			slipped++
		}
	}
	return pass, slipped
}

// TestGatewayFloodEndToEnd runs the dnsward binary in a network namespace
// with rate_limit and XDP (native, generic) or without XDP (userspace), floods
// it across a veth pair from one address while another asks legitimate
// queries, and checks the answers against the limits and /debug/limits.
func TestGatewayFloodEndToEnd(t *testing.T) {
	netnstest.NeedRoot(t)
	bin := dnstest.BuildDnsward(t)
	limits := ratelimit.Limits{QPS: 200, Burst: 100, Slip: 2}
	for _, mode := range []string{"native", "generic", ""} {
		name := mode
		if name == "" {
			name = "userspace"
		}
		t.Run(name, func(t *testing.T) {
			n := netnstest.New(t)
			g := startBinGateway(t, bin, n, limits, mode, 0)
			f := flood{pps: 5000, dur: 2 * time.Second, max: 15000, legit: 100, legitTries: 3}
			r := f.run(t, n)
			rep := g.report(t)
			wantPass, wantTC := bucketModel(limits, r.sent)
			t.Logf("flood: %d sent in %v, %d answered (model %d), %d TC (model %d); legit %d/%d answered, %d sent",
				len(r.sent), r.took.Round(time.Millisecond), r.answered, wantPass, r.tc, wantTC, r.legitAnswered, f.legit, r.legitSent)

			if r.legitAnswered != int64(f.legit) {
				t.Errorf("legitimate client: %d of %d queries answered", r.legitAnswered, f.legit)
			}
			// A stalled sender or reader shifts what the limiter sees from
			// what the model replays, so "about": [0.5, 1.1] of the model.
			if got := float64(r.answered); got < 0.5*float64(wantPass) || got > 1.1*float64(wantPass)+20 {
				t.Errorf("flooder got %d answers, the bucket allows about %d", r.answered, wantPass)
			}
			if excess := int64(len(r.sent)) - r.answered; r.tc > excess/2+1 || r.tc < excess/4 {
				t.Errorf("flooder got %d TC answers for %d excess queries, want about half (slip 2)", r.tc, excess)
			}
			if mode != "" {
				checkXDPReport(t, rep, n.ServerIf, mode, r)
				out := g.stats(t)
				for _, want := range []string{n.ServerIf, mode, netnstest.FloodAddr + "/32"} {
					if !strings.Contains(out, want) {
						t.Errorf("dnsward xdp stats lacks %q:\n%s", want, out)
					}
				}
				return
			}
			checkUserspaceReport(t, rep, r)
		})
	}
}

// checkXDPReport compares the XDP counters with what the clients saw.
func checkXDPReport(t *testing.T, rep *LimitsReport, ifc, mode string, r *floodResult) {
	t.Helper()
	if rep.XDP == nil || len(rep.XDP.Attached) != 1 || rep.XDP.Attached[0] != (XDPAttachment{Interface: ifc, Mode: mode}) {
		t.Fatalf("report: XDP %+v, want attached to %s in %s mode", rep.XDP, ifc, mode)
	}
	if rep.Userspace.UDP {
		t.Errorf("report: userspace limits UDP although XDP is attached")
	}
	pkts := map[string]uint64{}
	for _, c := range rep.XDP.Packets {
		pkts[c.Action+"/"+c.Reason] = c.Packets
	}
	t.Logf("xdp counters: %v", pkts)
	if got, want := pkts["pass/within_limit"], uint64(r.answered+r.legitSent); got != want {
		t.Errorf("xdp passed %d queries; the clients got %d flood answers and sent %d legit queries", got, r.answered, r.legitSent)
	}
	if got := pkts["tc/rate_limit"]; got != uint64(r.tc) {
		t.Errorf("xdp answered %d queries with TC=1, the flooder got %d", got, r.tc)
	}
	seen := pkts["pass/within_limit"] + pkts["drop/rate_limit"] + pkts["tc/rate_limit"]
	if sent := uint64(len(r.sent)) + uint64(r.legitSent); seen != sent {
		t.Errorf("xdp saw %d queries, the clients sent %d", seen, sent)
	}
	if len(rep.XDP.TopLimited) == 0 || rep.XDP.TopLimited[0].Prefix != netnstest.FloodAddr+"/32" ||
		rep.XDP.TopLimited[0].Excess != pkts["drop/rate_limit"]+pkts["tc/rate_limit"] {
		t.Errorf("top limited %v, want %s/32 first with every excess query", rep.XDP.TopLimited, netnstest.FloodAddr)
	}
}

// checkUserspaceReport compares the userspace limiter's decisions with what
// the clients saw.
func checkUserspaceReport(t *testing.T, rep *LimitsReport, r *floodResult) {
	t.Helper()
	if rep.XDP != nil || !rep.Userspace.UDP {
		t.Fatalf("report: XDP %+v, userspace UDP %v; want userspace limits only", rep.XDP, rep.Userspace.UDP)
	}
	dec := map[string]uint64{}
	for _, d := range rep.Userspace.Decisions {
		if d.Transport == "udp" {
			dec[d.Decision] = d.Queries
		}
	}
	t.Logf("userspace decisions: %v", dec)
	if got, want := dec["pass"], uint64(r.answered+r.legitSent); got != want {
		t.Errorf("limiter passed %d queries; the clients got %d flood answers and sent %d legit queries", got, r.answered, r.legitSent)
	}
	if got := dec["slipped"]; got != uint64(r.tc) {
		t.Errorf("limiter slipped %d queries, the flooder got %d TC answers", got, r.tc)
	}
	// The socket may drop a few under load; the limiter sees the rest.
	seen, sent := dec["pass"]+dec["limited"]+dec["slipped"], uint64(len(r.sent))+uint64(r.legitSent)
	if seen > sent || seen < sent*9/10 {
		t.Errorf("limiter decided %d queries, the clients sent %d", seen, sent)
	}
	if len(rep.Userspace.TopLimited) == 0 || rep.Userspace.TopLimited[0].Prefix != netnstest.FloodAddr+"/32" ||
		rep.Userspace.TopLimited[0].Excess != dec["limited"]+dec["slipped"] {
		t.Errorf("top limited %v, want %s/32 first with every excess query", rep.Userspace.TopLimited, netnstest.FloodAddr)
	}
}

// BenchmarkGatewayFlood floods the dnsward binary as fast as one Go sender
// goes, limited by XDP (native, generic) or in userspace (with one reader
// per UDP socket, and with two), at 1000 qps and burst 2000, while a
// legitimate client asks 200 queries with one try each.
// It reports the flood's rate, the rate the limiter dropped, and the share
// of legitimate queries answered. Run with -benchtime=1x: each run floods
// for 2 s.
func BenchmarkGatewayFlood(b *testing.B) {
	netnstest.NeedRoot(b)
	bin := dnstest.BuildDnsward(b)
	limits := ratelimit.Limits{QPS: 1000, Burst: 2000}
	for _, tc := range []struct {
		name, mode string
		readers    int
	}{{"native", "native", 0}, {"generic", "generic", 0}, {"userspace", "", 0}, {"userspace-2readers", "", 2}} {
		b.Run(tc.name, func(b *testing.B) {
			n := netnstest.New(b)
			g := startBinGateway(b, bin, n, limits, tc.mode, tc.readers)
			f := flood{dur: 2 * time.Second, max: 1_000_000, legit: 200, legitTries: 1}
			var sent, dropped, legit, took float64
			for range b.N {
				r := f.run(b, n)
				sent += float64(len(r.sent))
				legit += float64(r.legitAnswered)
				took += r.took.Seconds()
			}
			rep := g.report(b)
			if rep.XDP != nil {
				for _, c := range rep.XDP.Packets {
					if c.Action == "drop" {
						dropped += float64(c.Packets)
					}
				}
			}
			for _, d := range rep.Userspace.Decisions {
				if d.Transport == "udp" && d.Decision == "limited" {
					dropped += float64(d.Queries)
				}
			}
			b.ReportMetric(sent/took, "flood-pps")
			b.ReportMetric(dropped/took, "dropped-pps")
			b.ReportMetric(100*(sent-dropped)/sent, "flood-not-dropped-%") // passed, or lost before the limiter
			b.ReportMetric(100*legit/float64(b.N*f.legit), "legit-answered-%")
		})
	}
}
