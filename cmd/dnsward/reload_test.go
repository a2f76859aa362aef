package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/bench/listgen/names"
	"github.com/dnsward/dnsward/internal/dnstest"
	"github.com/dnsward/dnsward/resolver"
)

// Bounds of the query loop that runs across the reload.
const (
	loadWorkers  = 2
	loadDuration = 5 * time.Second // at most; the loop ends soon after the reloads
	loadMax      = 20000           // queries, all workers together
	fillerNames  = 100000          // synthetic names in the reloaded list
)

// daemon is a running `dnsward serve` whose log lines are watched.
type daemon struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	seen  chan struct{} // signalled on every log line
	done  chan struct{} // closed when the process has exited
	err   error         // Wait's result, once done is closed
}

// startDaemon runs `bin serve --config config` with env added to this
// process's environment.
func startDaemon(t *testing.T, bin, config string, env ...string) *daemon {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", config)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	return startCommand(t, cmd)
}

// startCommand starts cmd, which runs `dnsward serve` (directly or through
// a wrapper that execs it), and watches its log lines.
func startCommand(t *testing.T, cmd *exec.Cmd) *daemon {
	t.Helper()
	d := &daemon{cmd: cmd, seen: make(chan struct{}, 1), done: make(chan struct{})}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			d.mu.Lock()
			d.lines = append(d.lines, sc.Text())
			d.mu.Unlock()
			select {
			case d.seen <- struct{}{}:
			default:
			}
		}
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default: // the test failed before SIGTERM
			d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("dnsward log:\n%s", d.log())
		}
	})
	return d
}

func (d *daemon) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.lines, "\n")
}

// count returns how many log lines contain s.
func (d *daemon) count(s string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, l := range d.lines {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

// waitLog waits up to 10 s for the n-th log line containing s.
func (d *daemon) waitLog(t *testing.T, s string, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for d.count(s) < n {
		select {
		case <-d.seen:
		case <-d.done:
			t.Fatalf("dnsward exited (%v) before logging %q", d.err, s)
		case <-timeout:
			t.Fatalf("dnsward did not log %q", s)
		}
	}
}

// loadResult counts the answers of the query loop.
type loadResult struct {
	sent, failed atomic.Int64
	firstErr     atomic.Value // string
}

// queryLoop asks names round-robin over UDP until ctx ends or loadMax
// queries were sent. A query fails if it gets no answer or an RCODE that
// its name never has (SERVFAIL, REFUSED, …).
func queryLoop(ctx context.Context, addr string, names map[string][]int, res *loadResult) {
	var order []string
	for n := range names {
		order = append(order, n)
	}
	var wg sync.WaitGroup
	for w := range loadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &dns.Client{Timeout: 2 * time.Second}
			for i := w; ctx.Err() == nil && res.sent.Add(1) <= loadMax; i++ {
				name := order[i%len(order)]
				q := new(dns.Msg)
				q.SetQuestion(name, dns.TypeA)
				resp, _, err := c.Exchange(q, addr)
				switch {
				case err != nil:
					res.fail(fmt.Sprintf("%s: %v", name, err))
				case !contains(names[name], resp.Rcode):
					res.fail(fmt.Sprintf("%s: rcode %s", name, dns.RcodeToString[resp.Rcode]))
				}
			}
		}()
	}
	wg.Wait()
}

// waitSent waits until the loop has sent n queries; it fails the test if
// the loop ends first (its time or count bound was too small).
func waitSent(t *testing.T, res *loadResult, n int64, done <-chan struct{}) {
	t.Helper()
	for res.sent.Load() < n {
		select {
		case <-done:
			t.Fatalf("the query loop ended after %d queries, before %d", res.sent.Load(), n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (r *loadResult) fail(msg string) {
	r.failed.Add(1)
	r.firstErr.CompareAndSwap(nil, msg)
}

func contains(rcodes []int, rcode int) bool {
	for _, r := range rcodes {
		if r == rcode {
			return true
		}
	}
	return false
}

// askA sends one A query with an OPT record over UDP.
func askA(t *testing.T, addr, name string) *dns.Msg {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, dns.TypeA)
	q.SetEdns0(1232, false)
	resp, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(q, addr)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return resp
}

// TestSIGHUPReloadUnderLoad runs the dnsward binary with a local list,
// changes the list and sends SIGHUP while two clients query without pause:
// no query fails, the new name is blocked afterwards, and SIGTERM ends the
// process cleanly within the drain bound.
func TestSIGHUPReloadUnderLoad(t *testing.T) {
	bin := dnstest.BuildDnsward(t)
	auth := dnstest.StartAuthority(t, []string{
		"www.example.org. 300 IN A 127.0.0.30",
		"old-ad.example. 300 IN A 127.0.0.31",
		"new-ad.example. 300 IN A 127.0.0.32",
	}, nil)
	dir := t.TempDir()
	list := filepath.Join(dir, "ads.txt")
	// Many names, so that each rebuild takes a while with queries arriving.
	var filler strings.Builder
	g := names.New(1)
	for range fillerNames {
		filler.WriteString(g.Next() + "\n")
	}
	writeFile(t, list, "old-ad.example\n"+filler.String())
	addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	config := filepath.Join(dir, "dnsward.yaml")
	writeFile(t, config, fmt.Sprintf(`
listen: {dns: [%q]}
upstreams: [udp://%s]
data_dir: %q
log: {level: info}
lists: {ads: [ads.txt]}   # relative to this file
default_profile: filtered
profiles:
  filtered: {block: [ads]}
`, addr, auth.Addr, filepath.Join(dir, "data")))

	d := startDaemon(t, bin, config)
	d.waitLog(t, "dnsward started", 1) // logged once the SIGHUP handler is in place
	if resp := askA(t, addr, "new-ad.example."); resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("new-ad.example before the reload: %v", resp)
	}
	ctx, cancel := context.WithTimeout(context.Background(), loadDuration)
	defer cancel()
	var res loadResult
	done := make(chan struct{})
	go func() {
		defer close(done)
		queryLoop(ctx, addr, map[string][]int{
			"www.example.org.": {dns.RcodeSuccess},
			"old-ad.example.":  {dns.RcodeNameError},
			"new-ad.example.":  {dns.RcodeSuccess, dns.RcodeNameError}, // blocked once reloaded
		}, &res)
	}()

	// The reloads happen between the loop's first and last queries.
	waitSent(t, &res, 500, done)
	writeFile(t, list, "old-ad.example\nnew-ad.example\n"+filler.String())
	for i := 1; i <= 3; i++ { // several reloads, each a full rebuild under load
		if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		d.waitLog(t, "reloaded lists", i)
	}
	waitSent(t, &res, res.sent.Load()+500, done)
	cancel()
	<-done
	if res.failed.Load() > 0 {
		t.Fatalf("%d of %d queries failed across the reloads; first: %v", res.failed.Load(), res.sent.Load(), res.firstErr.Load())
	}
	t.Logf("%d queries across 3 reloads, none failed", res.sent.Load())

	resp := askA(t, addr, "new-ad.example.")
	ede, ok := resolver.EDE(resp)
	if resp.Rcode != dns.RcodeNameError || !ok || ede.InfoCode != resolver.EDEFiltered || ede.ExtraText != "filtered: ads" {
		t.Fatalf("new-ad.example after the reload: %v", resp)
	}

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.done:
		if d.err != nil {
			t.Fatalf("dnsward exited with %v after SIGTERM, want 0\n", d.err)
		}
	case <-time.After(drainTimeout + 2*time.Second):
		t.Fatalf("dnsward still running %s after SIGTERM", drainTimeout+2*time.Second)
	}
}
