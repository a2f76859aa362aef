package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/dnsward/dnsward/gateway"
)

const xdpUsage = "usage: dnsward xdp stats [--metrics ADDR] [--top N] [--json]\n"

// xdpCmd runs `dnsward xdp SUBCOMMAND`; stats is the only one.
func xdpCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "stats" {
		fmt.Fprint(stderr, xdpUsage)
		return 2
	}
	fs := flag.NewFlagSet("xdp stats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("metrics", "127.0.0.1:9153", "the gateway's metrics listener (listen.metrics)")
	top := fs.Int("top", gateway.DefaultTop, "how many limited prefixes to list")
	raw := fs.Bool("json", false, "print the JSON report as served")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dnsward xdp stats: unexpected argument %q\n%s", fs.Arg(0), xdpUsage)
		return 2
	}
	body, err := fetchLimits(*addr, *top, *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "dnsward xdp stats: %v\n", err)
		return 1
	}
	if *raw {
		stdout.Write(body)
		return 0
	}
	var rep gateway.LimitsReport
	if err := json.Unmarshal(body, &rep); err != nil {
		fmt.Fprintf(stderr, "dnsward xdp stats: bad report from %s: %v\n", *addr, err)
		return 1
	}
	printLimits(stdout, &rep)
	return 0
}

// fetchLimits GETs /debug/limits from the metrics listener at addr.
func fetchLimits(addr string, top int, timeout time.Duration) ([]byte, error) {
	return fetchReport(addr, "/debug/limits", top, timeout)
}

// fetchReport GETs path?top=N from the metrics listener at addr.
func fetchReport(addr, path string, top int, timeout time.Duration) ([]byte, error) {
	u := url.URL{Scheme: "http", Host: addr, Path: path, RawQuery: "top=" + strconv.Itoa(top)}
	resp, err := (&http.Client{Timeout: timeout}).Get(u.String())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %s", u.String(), resp.Status, body)
	}
	return body, nil
}

// printLimits writes the report as aligned tables.
func printLimits(w io.Writer, rep *gateway.LimitsReport) {
	l := rep.Limits
	fmt.Fprintf(w, "limits: %d qps, burst %d, slip %d, per /%d (IPv4) and /%d (IPv6), %d allowed and %d denied prefixes\n",
		l.QPS, l.Burst, l.Slip, l.IPv4Prefix, l.IPv6Prefix, len(l.Allow), len(l.Deny))
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	defer tw.Flush()
	if x := rep.XDP; x != nil {
		fmt.Fprintln(tw, "\nXDP\tINTERFACE\tMODE")
		for _, a := range x.Attached {
			fmt.Fprintf(tw, "attached\t%s\t%s\n", a.Interface, a.Mode)
		}
		fmt.Fprintln(tw, "\nACTION\tREASON\tPACKETS")
		for _, c := range x.Packets {
			fmt.Fprintf(tw, "%s\t%s\t%d\n", c.Action, c.Reason, c.Packets)
		}
		printTop(tw, "XDP", x.TopLimited)
	} else {
		fmt.Fprintln(tw, "\nXDP: not attached; plain UDP is limited in userspace")
	}
	u := rep.Userspace
	fmt.Fprintln(tw, "\nTRANSPORT\tDECISION\tQUERIES")
	for _, d := range u.Decisions {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", d.Transport, d.Decision, d.Queries)
	}
	for _, reason := range slices.Sorted(maps.Keys(u.ConnectionsRejected)) {
		fmt.Fprintf(tw, "connections\trejected (%s)\t%d\n", reason, u.ConnectionsRejected[reason])
	}
	printTop(tw, "userspace", u.TopLimited)
}

func printTop(w io.Writer, who string, top []gateway.LimitedPrefix) {
	if len(top) == 0 {
		fmt.Fprintf(w, "\ntop limited prefixes (%s): none\n", who)
		return
	}
	fmt.Fprintf(w, "\nTOP LIMITED (%s)\tEXCESS\n", who)
	for _, p := range top {
		fmt.Fprintf(w, "%s\t%d\n", p.Prefix, p.Excess)
	}
}
