package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/dnsward/dnsward/gateway/config"
)

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "configuration file to validate (default: the embedded configuration)")
	printDefault := fs.Bool("print-default", false, "print the embedded configuration as a file to start from")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || (*printDefault && *file != "") {
		fmt.Fprintln(stderr, "usage: dnsward check [--config FILE] | dnsward check --print-default")
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
	return 0
}
