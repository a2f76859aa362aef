package main

import (
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/dnsward/dnsward/gateway"
	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/resolver/filter"
)

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "configuration file to validate (default: the embedded configuration)")
	printDefault := fs.Bool("print-default", false, "print the embedded configuration as a file to start from")
	explain := fs.String("explain", "", "also say how this name would be answered and why: profile, local record, allow/deny/list entry, MISP indicators, forward zone")
	profile := fs.String("profile", "", "with --explain: the profile to explain for (default: the default profile)")
	client := fs.String("client", "", "with --explain: a client ID; a listed one picks its profile, as on the wire")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || (*printDefault && *file != "") || ((*profile != "" || *client != "") && *explain == "") {
		fmt.Fprintln(stderr, "usage: dnsward check [--config FILE] [--explain NAME [--profile P] [--client ID]] | dnsward check --print-default")
		return 2
	}
	if *printDefault {
		data, err := config.DefaultYAML(resolvConf)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		stdout.Write(data)
		return 0
	}
	cfg, err := loadConfig(*file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := summary(stdout, cfg); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *explain != "" {
		return explainName(stdout, stderr, cfg, *explain, *profile, *client)
	}
	return 0
}

// explainName prints how cfg's gateway would answer name in profile for
// client (an ID, or ""), step by step, and what the MISP sets kept in data_dir say about it.
func explainName(stdout, stderr io.Writer, cfg *config.Config, name, profile, client string) int {
	steps, err := gateway.Explain(cfg, name, profile, client)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ti, err := gateway.ThreatIntel(cfg)
	var intel []string
	if err == nil && len(ti.MISP) > 0 {
		intel, err = filter.ExplainIntel(ti, cfg.ListDataDir(), name)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, l := range intel {
		steps = append(steps, gateway.Step{Step: "misp", What: l})
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "explain %s:\n", name)
	for _, s := range steps {
		fmt.Fprintf(tw, "  %s\t%s\n", s.Step, s.What)
	}
	if err := tw.Flush(); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
