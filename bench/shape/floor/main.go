// Command floor is the cost of the UDP path below any DNS server: it reads
// datagrams with recvmmsg, sets the QR bit and sends each back unchanged
// with sendmmsg, as dnsward's UDP loop does, doing nothing else. Under the
// same dnsperf load its CPU per query is the floor that the kernel and the
// Go runtime set on this machine; bench/shape/run.sh measures it beside the
// servers.
package main

import (
	"flag"
	"log"
	"net"

	"golang.org/x/net/ipv4"
)

func main() {
	addr := flag.String("listen", "127.0.0.1:30357", "UDP address to answer on")
	flag.Parse()
	c, err := net.ListenPacket("udp4", *addr)
	if err != nil {
		log.Fatal(err)
	}
	pc := ipv4.NewPacketConn(c)
	in, out := make([]ipv4.Message, 32), make([]ipv4.Message, 32)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, 4096)}
		out[i].Buffers = make([][]byte, 1)
	}
	for {
		n, err := pc.ReadBatch(in, 0)
		if err != nil {
			log.Fatal(err)
		}
		k := 0
		for _, m := range in[:n] {
			if m.N < 12 {
				continue // not a DNS header
			}
			b := m.Buffers[0][:m.N]
			b[2] |= 0x80 // QR: the query itself becomes an empty answer
			out[k].Buffers[0], out[k].Addr = b, m.Addr
			k++
		}
		for o := out[:k]; len(o) > 0; {
			sent, err := pc.WriteBatch(o, 0)
			if err != nil && sent <= 0 {
				sent = 1 // skip a datagram the kernel refuses
			}
			o = o[sent:]
		}
	}
}
