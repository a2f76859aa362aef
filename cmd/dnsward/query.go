package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/miekg/dns"
	"golang.org/x/net/idna"

	"github.com/dnsward/dnsward/certs"
	"github.com/dnsward/dnsward/resolver/upstream"
)

func query(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	insecure := fs.Bool("k", false, "accept any server certificate")
	cacert := fs.String("cacert", "", "PEM file with the CA that signs the server's certificate")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	dnssec := fs.Bool("dnssec", false, "set the DO bit")
	// Flags may come before or after the positional arguments.
	var pos []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	name, qtype, server, err := queryArgs(pos)
	if err == nil {
		name, err = queryName(name, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "dnsward query: %v\nusage: dnsward query NAME [TYPE] @URL [-k] [-cacert FILE] [-dnssec]\n", err)
		return 2
	}
	opts := upstream.Options{Timeout: *timeout, InsecureSkipVerify: *insecure}
	if *cacert != "" {
		roots, err := certs.LoadRoots(*cacert)
		if err != nil {
			fmt.Fprintf(stderr, "dnsward query: %v\n", err)
			return 1
		}
		opts.RootCAs = roots
	}
	u, err := upstream.New(server, opts)
	if err != nil {
		fmt.Fprintf(stderr, "dnsward query: %v\n", err)
		return 1
	}
	defer u.Close()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.SetEdns0(1232, *dnssec)
	start := time.Now()
	resp, err := u.Exchange(context.Background(), q)
	if err != nil {
		fmt.Fprintf(stderr, "dnsward query: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, resp.String())
	fmt.Fprintf(stdout, ";; SERVER: %s\n;; TIME: %s\n", server, time.Since(start).Round(time.Microsecond))
	return 0
}

// queryArgs reads NAME [TYPE] @URL in any order.
func queryArgs(pos []string) (name string, qtype uint16, server string, err error) {
	qtype = dns.TypeA
	for _, a := range pos {
		switch {
		case strings.HasPrefix(a, "@"):
			server = a[1:]
		case dns.StringToType[strings.ToUpper(a)] != 0 && name != "":
			qtype = dns.StringToType[strings.ToUpper(a)]
		case name == "":
			name = a
		default:
			return "", 0, "", fmt.Errorf("unexpected argument %q", a)
		}
	}
	if name == "" || server == "" {
		return "", 0, "", fmt.Errorf("a name and an @server are required")
	}
	return name, qtype, server, nil
}

// queryName returns name fully qualified, an internationalized name in its
// A-label (xn--) form as DNS carries it, saying so on w.
func queryName(name string, w io.Writer) (string, error) {
	ascii := name
	if strings.ContainsFunc(name, func(r rune) bool { return r >= utf8.RuneSelf }) {
		var err error
		if ascii, err = idna.Lookup.ToASCII(name); err != nil {
			return "", fmt.Errorf("%q is not a valid internationalized domain name: %v", name, err)
		}
	}
	fqdn := dns.Fqdn(ascii)
	if _, ok := dns.IsDomainName(fqdn); !ok {
		return "", fmt.Errorf("%q is not a valid domain name", name)
	}
	if ascii != name {
		fmt.Fprintf(w, ";; IDNA: %s is %s\n", name, fqdn)
	}
	return fqdn, nil
}
