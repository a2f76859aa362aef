package plain

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"os"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// udpDropsDesc describes dnsward_udp_receive_drops_total. The socket label
// is the socket's index among the server's UDP sockets (listen.dns
// addresses in order, then SO_REUSEPORT sockets in order): never a client.
var udpDropsDesc = prometheus.NewDesc("dnsward_udp_receive_drops_total",
	"Queries the kernel dropped because a plain-DNS UDP socket's receive buffer was full.",
	[]string{"socket"}, nil)

// udpDrops collects each UDP socket's kernel drop counter (the drops
// column of /proc/net/udp and udp6, which `ss -uamn` shows as d) when
// Prometheus scrapes: nothing is counted per packet.
type udpDrops struct {
	inodes []uint64 // per socket
}

// Describe implements prometheus.Collector.
func (d *udpDrops) Describe(ch chan<- *prometheus.Desc) { ch <- udpDropsDesc }

// Collect implements prometheus.Collector.
func (d *udpDrops) Collect(ch chan<- prometheus.Metric) {
	drops, err := d.read()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(udpDropsDesc, err)
		return
	}
	for i, n := range drops {
		ch <- prometheus.MustNewConstMetric(udpDropsDesc, prometheus.CounterValue, float64(n), strconv.Itoa(i))
	}
}

// read returns each socket's drops, in socket order.
func (d *udpDrops) read() ([]uint64, error) {
	byInode := make(map[uint64]uint64, len(d.inodes))
	for _, ino := range d.inodes {
		byInode[ino] = 0
	}
	for _, f := range []string{"/proc/self/net/udp", "/proc/self/net/udp6"} { // /proc/self/net: still there under systemd's ProcSubset=pid
		if err := procDrops(f, byInode); err != nil {
			return nil, err
		}
	}
	out := make([]uint64, len(d.inodes))
	for i, ino := range d.inodes {
		out[i] = byInode[ino]
	}
	return out, nil
}

// procDrops reads a /proc/net/udp-format table and fills in the drops of
// the sockets whose inodes are keys of byInode. Each line after the header
// is: sl local rem st tx:rx tr:tm retrnsmt uid timeout inode ref pointer drops.
func procDrops(file string, byInode map[uint64]uint64) error {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil // no IPv6 in this kernel
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := bytes.Fields(sc.Bytes())
		if len(fields) < 13 {
			continue
		}
		ino, err := strconv.ParseUint(string(fields[9]), 10, 64)
		if _, ours := byInode[ino]; err != nil || !ours {
			continue
		}
		if n, err := strconv.ParseUint(string(fields[12]), 10, 64); err == nil {
			byInode[ino] = n
		}
	}
	return sc.Err()
}

// socketInode returns the inode that names c's socket in /proc/net/udp.
func socketInode(c *net.UDPConn) (uint64, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
		return 0, err
	}
	return st.Ino, serr
}
