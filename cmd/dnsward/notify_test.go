package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/dnsward/dnsward/internal/dnstest"
)

// TestSystemdNotify runs the dnsward binary the way systemd runs a
// Type=notify service, with $NOTIFY_SOCKET naming a unix datagram socket
// the test listens on: READY=1 once it answers queries, RELOADING=1 with the
// monotonic time of the reload and READY=1 again on SIGHUP, STOPPING=1 on
// SIGTERM, nothing else.
func TestSystemdNotify(t *testing.T) {
	bin := dnstest.BuildDnsward(t)
	auth := dnstest.StartAuthority(t, []string{"www.example.org. 300 IN A 127.0.0.30"}, nil)
	// A short directory: a unix socket path has at most 107 bytes.
	sockDir, err := os.MkdirTemp("", "sdnotify")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", dnstest.FreePort(t))
	config := filepath.Join(dir, "dnsward.yaml")
	writeFile(t, config, fmt.Sprintf("listen: {dns: [%q]}\nupstreams: [udp://%s]\ndata_dir: %q\n", addr, auth.Addr, dir))
	d := startDaemon(t, bin, config, "NOTIFY_SOCKET="+sock)

	if got := readNotify(t, conn); got != "READY=1" {
		t.Fatalf("first message %q, want READY=1", got)
	}
	// READY=1 means serving: a query sent now is answered.
	if resp := askA(t, addr, "www.example.org."); resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
		t.Fatalf("query right after READY=1: %v", resp)
	}

	before := monotonicUsec(t)
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	got := readNotify(t, conn)
	after := monotonicUsec(t)
	state, usec, ok := strings.Cut(got, "\nMONOTONIC_USEC=")
	if !ok || state != "RELOADING=1" {
		t.Fatalf("message after SIGHUP %q, want RELOADING=1 and MONOTONIC_USEC", got)
	}
	if n, err := strconv.ParseInt(strings.TrimSuffix(usec, "\n"), 10, 64); err != nil || n < before || n > after {
		t.Fatalf("MONOTONIC_USEC %q not within [%d, %d] (CLOCK_MONOTONIC around the reload)", usec, before, after)
	}
	if got := readNotify(t, conn); got != "READY=1" {
		t.Fatalf("message after the reload %q, want READY=1", got)
	}
	d.waitLog(t, "reloaded lists", 1)

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := readNotify(t, conn); got != "STOPPING=1" {
		t.Fatalf("message after SIGTERM %q, want STOPPING=1", got)
	}
	select {
	case <-d.done:
		if d.err != nil {
			t.Fatalf("dnsward exited with %v, want 0", d.err)
		}
	case <-time.After(drainTimeout + 2*time.Second):
		t.Fatal("dnsward still running after SIGTERM")
	}
	conn.SetReadDeadline(time.Now())
	if n, _, err := conn.ReadFrom(make([]byte, 512)); err == nil {
		t.Fatalf("unexpected message after STOPPING=1 (%d bytes)", n)
	}
}

// readNotify returns the next datagram on the notify socket (10 s bound).
func readNotify(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := conn.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no sd_notify message: %v", err)
	}
	return string(buf[:n])
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, the clock systemd's
// MONOTONIC_USEC uses.
func monotonicUsec(t *testing.T) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return ts.Nano() / 1000
}
