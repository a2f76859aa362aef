package xdp

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// testNet is two network namespaces joined by a veth pair:
// server (srvIf, 10.77.0.1) and client (cliIf, 10.77.0.2 and 10.77.0.3).
type testNet struct {
	server, client string // namespace names
	srvIf, cliIf   string
}

const (
	srvAddr   = "10.77.0.1"
	floodAddr = "10.77.0.2"
	legitAddr = "10.77.0.3"
)

func ipCmd(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// newTestNet creates the namespaces and removes them when the test ends.
func newTestNet(t testing.TB) *testNet {
	t.Helper()
	needRoot(t)
	id := fmt.Sprintf("%d%04d", os.Getpid()%10000, rand.IntN(10000))
	n := &testNet{server: "dwx-s" + id, client: "dwx-c" + id, srvIf: "dwx" + id + "s", cliIf: "dwx" + id + "c"}
	ipCmd(t, "netns", "add", n.server)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.server).Run() })
	ipCmd(t, "netns", "add", n.client)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.client).Run() })
	ipCmd(t, "link", "add", n.srvIf, "netns", n.server, "type", "veth", "peer", "name", n.cliIf, "netns", n.client)
	for _, c := range [][]string{
		{"-n", n.server, "addr", "add", srvAddr + "/24", "dev", n.srvIf},
		{"-n", n.client, "addr", "add", floodAddr + "/24", "dev", n.cliIf},
		{"-n", n.client, "addr", "add", legitAddr + "/24", "dev", n.cliIf},
		{"-n", n.server, "link", "set", n.srvIf, "up"},
		{"-n", n.client, "link", "set", n.cliIf, "up"},
		{"-n", n.server, "link", "set", "lo", "up"},
	} {
		ipCmd(t, c...)
	}
	return n
}

// inNetns runs fn on an OS thread switched into the named namespace.
// Sockets fn opens stay in that namespace after it returns.
func inNetns(name string, fn func() error) error {
	target, err := os.Open("/var/run/netns/" + name)
	if err != nil {
		return err
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			errc <- fmt.Errorf("restore netns: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
