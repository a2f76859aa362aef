package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/dnsward/dnsward/gateway"
	"github.com/dnsward/dnsward/gateway/config"
	"github.com/dnsward/dnsward/resolver/filter"
)

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "configuration file to validate (default: the embedded configuration)")
	printDefault := fs.Bool("print-default", false, "print the embedded configuration as a file to start from")
	explain := fs.String("explain", "", "also say which MISP indicators kept in data_dir match this name, and why they block it or not")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || (*printDefault && *file != "") {
		fmt.Fprintln(stderr, "usage: dnsward check [--config FILE] [--explain NAME] | dnsward check --print-default")
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
		return explainName(stdout, stderr, cfg, *explain)
	}
	return 0
}

// explainName prints what the MISP sets kept in data_dir say about name.
func explainName(stdout, stderr io.Writer, cfg *config.Config, name string) int {
	ti, err := gateway.ThreatIntel(cfg)
	if err == nil && len(ti.MISP) == 0 {
		err = fmt.Errorf("--explain: no threat_intel.misp source is configured")
	}
	var lines []string
	if err == nil {
		lines, err = filter.ExplainIntel(ti, cfg.ListDataDir(), name)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "explain %s:\n", name)
	for _, l := range lines {
		fmt.Fprintf(stdout, "  %s\n", l)
	}
	return 0
}
