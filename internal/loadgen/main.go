// Package loadgen is dnsward's load generator: it sends a dnsperf-style query
// file over UDP, TCP, DoT, DoH (HTTP/2, HTTP/3) or DoQ with N connections and
// M queries in flight on each, and reports qps, latency quantiles and errors.
// Its clients multiplex (pipelined TCP/DoT, one QUIC stream per query, HTTP/2
// and HTTP/3 streams) so that it measures the server rather than itself.
package loadgen

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"github.com/dnsward/dnsward/certs"
	"io"
	"os"
	"os/signal"
	"time"
)

// Main runs the load generator with command-line args (without the program
// name) and returns the exit status: 0 success, 1 run failure or nothing
// answered, 2 usage error.
func Main(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		server     = fs.String("s", "udp://127.0.0.1:53", "server URL: udp://, tcp://, tls://host:port, https://host:port/dns-query, h3://host:port/dns-query, quic://host:port")
		file       = fs.String("d", "", "query file, one \"name type\" per line (dnsperf format)")
		conns      = fs.Int("c", 1, "connections")
		inflight   = fs.Int("q", 10, "queries in flight per connection")
		duration   = fs.Duration("l", 0, "run time (default 10s when -n is not given)")
		count      = fs.Int64("n", 0, "number of queries to send (0: bounded by -l only)")
		timeout    = fs.Duration("t", 5*time.Second, "timeout per query")
		insecure   = fs.Bool("k", false, "do not verify the server certificate")
		cacert     = fs.String("cacert", "", "PEM file of CA certificates to verify the server with")
		servername = fs.String("servername", "", "TLS server name (SNI), default the URL host")
		quiet      = fs.Bool("quiet", false, "no progress lines")
		single     = fs.Bool("single", false, "tcp, tls, quic: one query per write (TLS record, QUIC stream write), as stub resolvers send")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *file == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "loadgen: -d queryfile is required and no positional arguments are accepted")
		fs.Usage()
		return 2
	}
	f, err := os.Open(*file)
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	queries, err := ParseQueries(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	tlsConf, err := clientTLS(*cacert, *servername, *insecure)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	o := Options{
		Server: *server, Queries: queries, Conns: *conns, Inflight: *inflight, Single: *single,
		Duration: *duration, Count: *count, Timeout: *timeout, TLS: tlsConf,
	}
	if !*quiet {
		o.Progress = stderr
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := Run(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	res.Print(stdout)
	if res.Answered == 0 {
		return 1
	}
	return 0
}

func clientTLS(cacert, servername string, insecure bool) (*tls.Config, error) {
	c := &tls.Config{ServerName: servername, InsecureSkipVerify: insecure}
	if cacert != "" {
		roots, err := certs.LoadRoots(cacert)
		if err != nil {
			return nil, fmt.Errorf("loadgen: %w", err)
		}
		c.RootCAs = roots
	}
	return c, nil
}
