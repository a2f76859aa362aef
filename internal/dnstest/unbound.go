package dnstest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// NeedBinary returns the path of an external program the test needs. Outside
// CI a missing program skips the test with the reason; in CI (CI set) it fails,
// because CI installs every program the tests use.
func NeedBinary(t testing.TB, name, aptPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s not installed (apt-get install %s)", name, aptPackage)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// FreePort returns a TCP and UDP port on 127.0.0.1 that was free a moment
// ago, for a server the test starts later. It is taken below the kernel's
// ephemeral range, so that the outgoing connections of tests running in
// parallel (which get ephemeral ports) cannot take it in the meantime, and
// never twice in one process.
func FreePort(t testing.TB) int {
	t.Helper()
	low := ephemeralLow()
	for range 200 {
		port := freePortFloor + rand.IntN(low-freePortFloor)
		if _, taken := givenPorts.LoadOrStore(port, true); !taken && bindable(port) {
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// freePortFloor is the lowest port FreePort hands out.
const freePortFloor = 10000

// givenPorts holds the ports FreePort returned in this process.
var givenPorts sync.Map

// ephemeralLow is the start of the kernel's ephemeral port range (32768 when unreadable).
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > freePortFloor+1000 {
				low = n
			}
		}
	}
	return low
}

// bindable reports whether port is free for both UDP and TCP on 127.0.0.1.
func bindable(port int) bool {
	pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	defer pc.Close()
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	return l.Close() == nil
}

// StartUnbound runs Debian's unbound on 127.0.0.1 answering localData
// (unbound local-data strings such as "www.example. 300 IN A 127.0.0.1") and
// refusing to recurse anywhere else. It returns host:port.
func StartUnbound(t testing.TB, localData []string, extraServerConf string) string {
	t.Helper()
	addr, _ := StartUnboundProcess(t, localData, extraServerConf)
	return addr
}

// StartUnboundProcess is StartUnbound that also returns unbound's process,
// for a test that kills it (by its PID) to take the upstream down.
func StartUnboundProcess(t testing.TB, localData []string, extraServerConf string) (string, *os.Process) {
	t.Helper()
	var b strings.Builder
	b.WriteString("  module-config: \"iterator\"\n  do-not-query-localhost: yes\n  local-zone: \"example.\" static\n")
	b.WriteString(extraServerConf + "\n")
	for _, d := range localData {
		fmt.Fprintf(&b, "  local-data: %q\n", d)
	}
	return runUnbound(t, b.String(), "")
}

// StartValidatingUnbound runs unbound as a validating resolver on 127.0.0.1
// that resolves each zone of stubs (apex → host:port of its authoritative
// server) there and validates the answers against anchors (DNSKEY or DS
// records, each a trust anchor). It sends Extended DNS Errors (ede: yes)
// and refuses every name outside stubs, so it never queries off loopback.
// It returns host:port.
func StartValidatingUnbound(t testing.TB, stubs map[string]string, anchors []dns.RR) string {
	t.Helper()
	var server, tail strings.Builder
	server.WriteString("  module-config: \"validator iterator\"\n  do-not-query-localhost: no\n  ede: yes\n  val-log-level: 2\n")
	server.WriteString("  local-zone: \".\" refuse\n")
	for _, a := range anchors {
		fmt.Fprintf(&server, "  trust-anchor: %q\n", strings.ReplaceAll(a.String(), "\t", " "))
	}
	for apex, addr := range stubs {
		host, port, _ := strings.Cut(addr, ":")
		apex = dns.Fqdn(apex)
		fmt.Fprintf(&server, "  local-zone: %q transparent\n", apex)
		fmt.Fprintf(&tail, "stub-zone:\n  name: %q\n  stub-addr: %s@%s\n", apex, host, port)
	}
	addr, _ := runUnbound(t, server.String(), tail.String())
	return addr
}

// StartForwardingUnbound runs unbound on 127.0.0.1 as a caching forwarder
// that sends every query to upstream (host:port on loopback): a cache
// downstream of the server under test. It returns host:port.
func StartForwardingUnbound(t testing.TB, upstream string) string {
	t.Helper()
	host, port, _ := strings.Cut(upstream, ":")
	addr, _ := runUnbound(t, "  module-config: \"iterator\"\n  do-not-query-localhost: no\n",
		fmt.Sprintf("forward-zone:\n  name: \".\"\n  forward-addr: %s@%s\n", host, port))
	return addr
}

// runUnbound runs unbound with the common server settings, then
// serverConf's, then the clauses of tail, and remote control off; it waits
// until unbound answers and returns host:port and the process.
func runUnbound(t testing.TB, serverConf, tail string) (string, *os.Process) {
	t.Helper()
	u := startUnbound(t, serverConf, tail, "  control-enable: no\n")
	return u.addr, u.proc
}

// unboundRun is an unbound that startUnbound started.
type unboundRun struct {
	addr string // host:port it answers on
	conf string // path of its configuration file
	proc *os.Process
}

// startUnbound is runUnbound with control as the remote-control clause.
func startUnbound(t testing.TB, serverConf, tail, control string) unboundRun {
	t.Helper()
	bin := NeedBinary(t, "unbound", "unbound")
	dir := t.TempDir()
	port := FreePort(t)
	conf := fmt.Sprintf(`server:
  interface: 127.0.0.1@%d
  port: %d
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "%s"
  pidfile: ""
  use-syslog: no
  logfile: ""
  verbosity: 0
  access-control: 127.0.0.0/8 allow
  num-threads: 1
%s
%sremote-control:
%s`, port, port, dir, serverConf, tail, control)
	path := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-d", "-c", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	WaitForDNS(t, addr)
	return unboundRun{addr: addr, conf: path, proc: cmd.Process}
}

// WaitForDNS polls addr over UDP until it answers, for up to 10 s.
func WaitForDNS(t testing.TB, addr string) {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion("localhost.", dns.TypeA)
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, _, err := c.Exchange(q, addr); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no DNS server answered on %s", addr)
}

// FreeAddrs replaces each %NAME% placeholder of text for the given names
// with its own free 127.0.0.1 address (FreePort) and returns the new text and
// the addresses by name.
func FreeAddrs(t testing.TB, text string, names ...string) (string, map[string]string) {
	t.Helper()
	addrs := make(map[string]string, len(names))
	var pairs []string
	for _, n := range names {
		addrs[n] = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
		pairs = append(pairs, "%"+n+"%", addrs[n])
	}
	return strings.NewReplacer(pairs...).Replace(text), addrs
}
