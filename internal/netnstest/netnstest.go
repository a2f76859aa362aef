// Package netnstest gives tests two network namespaces joined by a veth
// pair, so that traffic between a server and its clients (floods included)
// never leaves the machine's own test network. It needs root.
package netnstest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// The addresses New assigns: the server's end of the veth pair, and two
// client addresses on the other end.
const (
	ServerAddr = "10.77.0.1"
	FloodAddr  = "10.77.0.2"
	LegitAddr  = "10.77.0.3"
)

// Net is two namespaces joined by a veth pair: Server (interface ServerIf,
// ServerAddr, loopback up) and Client (ClientIf, FloodAddr and LegitAddr,
// an XDP program that passes everything).
type Net struct {
	Server, Client     string // namespace names, for Do and `ip netns exec`
	ServerIf, ClientIf string
}

// NeedRoot skips t unless it runs as root, saying why.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces, veth pairs and XDP need root (CAP_NET_ADMIN, CAP_BPF); CI runs as root")
	}
}

// New creates the namespaces and removes them when the test ends.
func New(t testing.TB) *Net {
	t.Helper()
	NeedRoot(t)
	id := fmt.Sprintf("%d%04d", os.Getpid()%10000, rand.IntN(10000))
	n := &Net{Server: "dwx-s" + id, Client: "dwx-c" + id, ServerIf: "dwx" + id + "s", ClientIf: "dwx" + id + "c"}
	ip(t, "netns", "add", n.Server)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.Server).Run() })
	ip(t, "netns", "add", n.Client)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.Client).Run() })
	ip(t, "link", "add", n.ServerIf, "netns", n.Server, "type", "veth", "peer", "name", n.ClientIf, "netns", n.Client)
	for _, c := range [][]string{
		{"-n", n.Server, "addr", "add", ServerAddr + "/24", "dev", n.ServerIf},
		{"-n", n.Client, "addr", "add", FloodAddr + "/24", "dev", n.ClientIf},
		{"-n", n.Client, "addr", "add", LegitAddr + "/24", "dev", n.ClientIf},
		{"-n", n.Server, "link", "set", n.ServerIf, "up"},
		{"-n", n.Client, "link", "set", n.ClientIf, "up"},
		{"-n", n.Server, "link", "set", "lo", "up"},
		{"-n", n.Client, "link", "set", "lo", "up"},
	} {
		ip(t, c...)
	}
	if err := Do(n.Client, func() error { return passXDP(t, n.ClientIf) }); err != nil {
		t.Fatal(err)
	}
	return n
}

// passXDP attaches a native XDP program that passes everything to ifc. A
// veth delivers the frames its peer's native XDP program transmits
// (XDP_TX, e.g. TC=1 answers) only when it runs XDP itself; otherwise the
// peer counts them as rx_queue_0_xdp_tx_errors.
func passXDP(t testing.TB, ifc string) error {
	iface, err := net.InterfaceByName(ifc)
	if err != nil {
		return err
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		return err
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.XDP, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, 2), asm.Return()}, // XDP_PASS
	})
	if err != nil {
		return fmt.Errorf("load XDP_PASS program: %w", err)
	}
	t.Cleanup(func() { prog.Close() })
	l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: iface.Index, Flags: link.XDPDriverMode})
	if err != nil {
		return fmt.Errorf("attach XDP_PASS to %s: %w", ifc, err)
	}
	t.Cleanup(func() { l.Close() })
	return nil
}

func ip(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Do runs fn on an OS thread switched into the named namespace. Sockets fn
// opens stay in that namespace after it returns.
func Do(name string, fn func() error) error {
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
