package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// TestSocketActivateStream runs dnsward under systemd-socket-activate, which
// binds the DoT and DoH TCP sockets and a third one no listener names, and
// execs dnsward with them (LISTEN_FDS, LISTEN_FDNAMES) at the first
// connection: kdig's DoT and DoH
// queries are answered on the inherited sockets (dnsward binding its own
// would fail: the activator holds the addresses), the start-up line names
// them, and the third is reported and closed.
func TestSocketActivateStream(t *testing.T) {
	activate := dnstest.NeedBinary(t, "systemd-socket-activate", "systemd")
	kdig := dnstest.NeedBinary(t, "kdig", "knot-dnsutils")
	bin := dnstest.BuildDnsward(t)
	unbound := dnstest.StartUnbound(t, []string{"www.example. 300 IN A 127.0.0.30"}, "")
	dir := t.TempDir()
	dot, doh, spare := freeLoopback(t), freeLoopback(t), freeLoopback(t)
	config := filepath.Join(dir, "dnsward.yaml")
	writeFile(t, config, fmt.Sprintf("listen: {dot: [%q], doh: [%q]}\nupstreams: [udp://%s]\ndata_dir: %q\n", dot, doh, unbound, dir))
	d := startCommand(t, exec.Command(activate, "-l", dot, "-l", doh, "-l", spare, "--fdname=dot:doh:spare",
		bin, "serve", "--config", config))
	// The activator execs dnsward at the first connection to any socket.
	d.waitLog(t, "Listening on "+spare, 1)
	trigger, err := net.Dial("tcp", spare)
	if err != nil {
		t.Fatal(err)
	}
	defer trigger.Close()
	d.waitLog(t, "dnsward started", 1)
	if n := d.count(fmt.Sprintf("inherited=\"dot=tcp/%s doh=tcp/%s\"", dot, doh)); n != 1 {
		t.Errorf("no start-up line naming the inherited DoT and DoH sockets")
	}
	if d.count("configured nowhere") != 1 || d.count("name=spare socket=tcp/"+spare) != 1 {
		t.Errorf("no warning about the unconfigured socket %s", spare)
	}
	ca := filepath.Join(dir, "self_signed", "ca.pem")
	for _, tc := range []struct{ name, addr, mode string }{
		{"DoT", dot, "+tls"},
		{"DoH", doh, "+https=/dns-query"},
	} {
		host, port, _ := net.SplitHostPort(tc.addr)
		out, err := exec.Command(kdig, "@"+host, "-p", port, tc.mode, "+tls-ca="+ca, "+tls-hostname=localhost",
			"+timeout=5", "www.example.", "A").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "status: NOERROR") || !strings.Contains(string(out), "127.0.0.30") {
			t.Errorf("kdig %s: %v\n%s", tc.name, err, out)
		}
	}
	if c, err := net.DialTimeout("tcp", spare, 2*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Errorf("the unconfigured socket %s still listens (%v)", spare, err)
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	<-d.done
	if d.err != nil {
		t.Errorf("dnsward exited with %v", d.err)
	}
}

// TestSocketActivationRestart passes dnsward, as systemd does, sockets this
// test binds and keeps: plain DNS on UDP and TCP, DoQ, DoH's TCP and QUIC
// sockets and a UDP socket no listener names. Every transport answers on
// them; the unnamed one is reported and closed; a SIGHUP reload keeps them
// serving. Then dnsward stops, a UDP and
// a TCP query sent while none runs wait in the kernel, and a second dnsward
// given the same sockets answers both.
func TestSocketActivationRestart(t *testing.T) {
	bin := dnstest.BuildDnsward(t)
	unbound := dnstest.StartUnbound(t, []string{"www.example. 300 IN A 127.0.0.30"}, "")
	dir := t.TempDir()
	dnsAddr, doq, doh, spare := freeLoopback(t), freeLoopback(t), freeLoopback(t), freeLoopback(t)
	config := filepath.Join(dir, "dnsward.yaml")
	writeFile(t, config, fmt.Sprintf("listen: {dns: [%q], doq: [%q], doh: [%q]}\nupstreams: [udp://%s]\ndata_dir: %q\n",
		dnsAddr, doq, doh, unbound, dir))
	names := []string{"dns", "dns-tcp", "doq", "doh", "doh3", "spare"}
	files := []*os.File{
		bindFile(t, "udp", dnsAddr), bindFile(t, "tcp", dnsAddr), bindFile(t, "udp", doq),
		bindFile(t, "tcp", doh), bindFile(t, "udp", doh), bindFile(t, "udp", spare),
	}
	activated := func() *daemon {
		// LISTEN_PID must be the pid of the process that reads it: the
		// shell's, which execs dnsward.
		cmd := exec.Command("/bin/sh", "-c", `LISTEN_PID=$$ exec "$0" "$@"`, bin, "serve", "--config", config)
		cmd.Env = append(os.Environ(), fmt.Sprintf("LISTEN_FDS=%d", len(files)), "LISTEN_FDNAMES="+strings.Join(names, ":"))
		cmd.ExtraFiles = files
		d := startCommand(t, cmd)
		d.waitLog(t, "dnsward started", 1)
		return d
	}
	d := activated()
	want := fmt.Sprintf(`inherited="dns=udp/%s dns-tcp=tcp/%s doq=udp/%s doh=tcp/%s doh3=udp/%s"`, dnsAddr, dnsAddr, doq, doh, doh)
	if d.count(want) != 1 || d.count("name=spare socket=udp/"+spare) != 1 {
		t.Errorf("want the start-up line %s and a warning about the spare socket", want)
	}
	files[5].Close() // dnsward's copy is the last one, and it closed it
	for _, server := range []string{"udp://" + dnsAddr, "tcp://" + dnsAddr, "quic://" + doq, "https://" + doh + "/dns-query", "h3://" + doh + "/dns-query"} {
		var out, errOut bytes.Buffer
		if code := run([]string{"query", "www.example.", "A", "@" + server, "-k", "-timeout", "5s"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "127.0.0.30") {
			t.Errorf("query @%s: exit %d\n%s%s", server, code, out.String(), errOut.String())
		}
	}
	if err := udpRefused(spare); err != nil {
		t.Error(err)
	}
	// A reload takes nothing again and keeps serving on the same sockets.
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(t, "dnsward: reloaded lists, certificates and limits", 1)
	if resp := askA(t, dnsAddr, "www.example."); len(resp.Answer) != 1 || d.count("listeners inherited") != 1 {
		t.Errorf("after SIGHUP: answer %v, %d start-up lines", resp, d.count("listeners inherited"))
	}

	d.cmd.Process.Signal(syscall.SIGTERM)
	<-d.done
	answered := make(chan error, 2)
	for _, network := range []string{"udp", "tcp"} {
		go func() {
			q := new(dns.Msg)
			q.SetQuestion("www.example.", dns.TypeA)
			resp, _, err := (&dns.Client{Net: network, Timeout: 15 * time.Second}).Exchange(q, dnsAddr)
			if err == nil && (len(resp.Answer) != 1 || resp.Answer[0].(*dns.A).A.String() != "127.0.0.30") {
				err = fmt.Errorf("answer %v", resp)
			}
			answered <- err
		}()
	}
	time.Sleep(300 * time.Millisecond) // both queries sent while no dnsward runs
	activated()
	for range 2 {
		if err := <-answered; err != nil {
			t.Errorf("a query sent across the restart: %v", err)
		}
	}
}

// freeLoopback returns a free 127.0.0.1 address.
func freeLoopback(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
}

// bindFile binds network's addr as systemd would for a .socket unit and
// returns the socket's file, closed when the test ends.
func bindFile(t *testing.T, network, addr string) *os.File {
	t.Helper()
	var f *os.File
	var err error
	if network == "tcp" {
		var l *net.TCPListener
		if l, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr))); err == nil {
			f, err = l.File()
			l.Close()
		}
	} else {
		var c *net.UDPConn
		if c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr))); err == nil {
			f, err = c.File()
			c.Close()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// udpRefused reports an error unless a query to addr meets a closed port.
func udpRefused(addr string) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	c.Write([]byte("not a query"))
	if _, err = c.Read(make([]byte, 512)); !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("the unconfigured socket %s is still open (%v)", addr, err)
	}
	return nil
}
