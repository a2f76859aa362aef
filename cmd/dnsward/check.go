package main

import (
	"flag"
	"fmt"
	"io"
	"time"
)

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "configuration file to validate (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *file == "" {
		fmt.Fprintln(stderr, "dnsward check: --config FILE is required")
		return 2
	}
	cfg, err := loadConfig(*file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK\n", cfg.File)
	for _, a := range cfg.Listen.DNS {
		fmt.Fprintf(stdout, "  listen dns (udp+tcp)  %s\n", a)
	}
	if cfg.Listen.Metrics != "" {
		fmt.Fprintf(stdout, "  listen metrics        %s\n", cfg.Listen.Metrics)
	}
	for _, u := range cfg.Upstreams {
		fmt.Fprintf(stdout, "  upstream              %s\n", u)
	}
	fmt.Fprintf(stdout, "  cache                 %d entries, serve-stale %s\n", cfg.Cache.Size, time.Duration(cfg.Cache.ServeStale))
	fmt.Fprintf(stdout, "  clients written as    %s\n", cfg.ClientMode())
	if cfg.QueryLog != nil {
		for _, s := range cfg.QueryLogConfig(nil).Sinks {
			fmt.Fprintf(stdout, "  query log             %s\n", s.Name())
		}
	}
	return 0
}
