// Command dnsward is an encrypted-DNS edge gateway: DoH, DoT, DoQ and plain
// DNS in front of a filtering, caching resolver.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/dnsward/dnsward/internal/loadgen"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `usage: dnsward <command> [flags]

commands:
  serve [--config FILE]              run the gateway (embedded defaults without --config)
  check [--config FILE]              validate a configuration (the embedded one without --config), print what would run
  check --print-default              print the embedded configuration as a file to start from
  query NAME [TYPE] @URL [flags]     send one query (udp://, tcp://, tls://, https://, h3://, quic://)
  xdp stats [--metrics ADDR]         print XDP and rate-limit counters and the top limited prefixes
  stats [--metrics ADDR]             print the last 12-24 h: top queried/blocked names, queries, distinct clients
  bench -s URL -d FILE [flags]       load-test a server over any transport (dnsward bench -h)
  version                            print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	case "query":
		return query(args[1:], stdout, stderr)
	case "xdp":
		return xdpCmd(args[1:], stdout, stderr)
	case "stats":
		return statsCmd(args[1:], stdout, stderr)
	case "bench":
		return loadgen.Main(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "dnsward", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "dnsward: unknown command %q\n\n%s", args[0], usage)
	return 2
}
