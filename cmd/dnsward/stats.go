package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/dnsward/dnsward/gateway"
	"github.com/dnsward/dnsward/querystats"
)

const statsUsage = "usage: dnsward stats [--metrics ADDR] [--top N] [--json]\n"

// statsCmd runs `dnsward stats`: the gateway's /debug/stats as tables, or
// as served with --json.
func statsCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("metrics", "127.0.0.1:9153", "the gateway's metrics listener (listen.metrics)")
	top := fs.Int("top", gateway.DefaultTop, "how many names to list per profile and category")
	raw := fs.Bool("json", false, "print the JSON report as served")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dnsward stats: unexpected argument %q\n%s", fs.Arg(0), statsUsage)
		return 2
	}
	body, err := fetchReport(*addr, "/debug/stats", *top, *timeout)
	if err != nil {
		fmt.Fprintf(stderr, "dnsward stats: %v\n", err)
		return 1
	}
	if *raw {
		stdout.Write(body)
		return 0
	}
	var rep querystats.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		fmt.Fprintf(stderr, "dnsward stats: bad report from %s: %v\n", *addr, err)
		return 1
	}
	printStats(stdout, &rep)
	return 0
}

// printStats writes the report as aligned tables.
func printStats(w io.Writer, rep *querystats.Report) {
	fmt.Fprintf(w, "since %s: about %d distinct clients; %d records dropped\n\n",
		rep.Since.UTC().Format(time.RFC3339), rep.DistinctClients, rep.Dropped)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TRANSPORT\tPROFILE\tQUERIES")
	for _, q := range rep.Queries {
		fmt.Fprintf(tw, "%s\t%s\t%d\n", q.Transport, q.Profile, q.Queries)
	}
	for _, l := range rep.TopQueried {
		fmt.Fprintf(tw, "\nTOP QUERIED (%s)\tCOUNT\n", l.Profile)
		printNames(tw, l.Names)
	}
	for _, l := range rep.TopBlocked {
		fmt.Fprintf(tw, "\nTOP BLOCKED (%s, %s)\tCOUNT\n", l.Profile, l.Category)
		printNames(tw, l.Names)
	}
	if len(rep.TopClients) > 0 {
		fmt.Fprintln(tw, "\nTOP CLIENT IDS\tQUERIES")
		printNames(tw, rep.TopClients)
	}
	if len(rep.TopBlockedClients) > 0 {
		fmt.Fprintln(tw, "\nTOP CLIENT IDS BLOCKED\tBLOCKED")
		printNames(tw, rep.TopBlockedClients)
	}
	tw.Flush()
}

func printNames(w io.Writer, names []querystats.Count) {
	for _, n := range names {
		fmt.Fprintf(w, "%s\t%d\n", n.Name, n.Count)
	}
}
