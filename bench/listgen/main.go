// Command listgen writes a synthetic block list of realistic names, the same
// for the same seed, in any format dnsward reads:
//
//	listgen -n 2000000 -seed 1 -format hosts > big.hosts
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/dnsward/dnsward/bench/listgen/names"
)

func main() {
	n := flag.Int("n", 100000, "number of names")
	seed := flag.Uint64("seed", 1, "generator seed")
	format := flag.String("format", "hosts", "hosts, domains, adblock or rpz")
	flag.Parse()
	if err := write(os.Stdout, *n, *seed, *format); err != nil {
		fmt.Fprintln(os.Stderr, "listgen:", err)
		os.Exit(2)
	}
}

func write(out io.Writer, n int, seed uint64, format string) error {
	line := map[string]string{
		"hosts":   "0.0.0.0 %s\n",
		"domains": "%s\n",
		"adblock": "||%s^\n",
		"rpz":     "%s CNAME .\n",
	}[format]
	if line == "" {
		return fmt.Errorf("unknown format %q", format)
	}
	w := bufio.NewWriter(out)
	if format == "rpz" {
		fmt.Fprint(w, "$TTL 300\n@ SOA localhost. root.localhost. 1 3600 600 86400 300\n  NS localhost.\n")
	}
	g := names.New(seed)
	for range n {
		fmt.Fprintf(w, line, g.Next())
	}
	return w.Flush()
}
