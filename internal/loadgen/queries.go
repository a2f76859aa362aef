package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/miekg/dns"
)

// Query is one line of a query file, packed once (ID 0, RD set, EDNS0 with a
// 1232-byte UDP size) so the send loop does no encoding work.
type Query struct {
	Name string
	Type uint16
	Wire []byte
}

// ParseQueries reads dnsperf's query file format: "name type" per line
// ("www.example.com A"); the type defaults to A; blank lines and lines
// starting with '#' or ';' are skipped.
func ParseQueries(r io.Reader) ([]Query, error) {
	var out []Query
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' || text[0] == ';' {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) > 2 {
			return nil, fmt.Errorf("loadgen: query file line %d: want \"name type\", got %q", line, text)
		}
		qtype := dns.TypeA
		if len(fields) == 2 {
			t, ok := dns.StringToType[strings.ToUpper(fields[1])]
			if !ok {
				return nil, fmt.Errorf("loadgen: query file line %d: unknown type %q", line, fields[1])
			}
			qtype = t
		}
		name := dns.Fqdn(fields[0])
		if _, ok := dns.IsDomainName(name); !ok {
			return nil, fmt.Errorf("loadgen: query file line %d: bad name %q", line, fields[0])
		}
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.Id = 0
		m.SetEdns0(1232, false)
		wire, err := m.Pack()
		if err != nil {
			return nil, fmt.Errorf("loadgen: query file line %d: %w", line, err)
		}
		out = append(out, Query{Name: name, Type: qtype, Wire: wire})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("loadgen: query file: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("loadgen: query file has no queries")
	}
	return out, nil
}
