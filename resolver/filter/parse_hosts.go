package filter

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// hostsParser reads hosts files ("0.0.0.0 a.example b.example # comment"),
// plain domain lists ("a.example") and wildcard lines ("*.a.example").
type hostsParser struct{}

// hostsBoilerplate are names hosts files map to loopback for the system's
// sake; they are never list entries.
var hostsBoilerplate = map[string]bool{
	"localhost": true, "localhost.localdomain": true, "local": true, "broadcasthost": true,
	"ip6-localhost": true, "ip6-loopback": true, "ip6-localnet": true, "ip6-mcastprefix": true,
	"ip6-allnodes": true, "ip6-allrouters": true, "ip6-allhosts": true,
}

var errNoName = errors.New("address without a name")

func (hostsParser) end() error { return nil }

func (hostsParser) parseLine(line string, emit func(Entry)) error {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return nil
	}
	if _, err := netip.ParseAddr(fields[0]); err == nil {
		if fields = fields[1:]; len(fields) == 0 {
			return errNoName
		}
	} else if len(fields) > 1 {
		return fmt.Errorf("%q: %w", fields[0], errNotDNS)
	}
	var skipped error
	for _, f := range fields {
		if hostsBoilerplate[strings.ToLower(f)] {
			continue
		}
		name, wild, err := NormalizeName(f)
		if err != nil {
			skipped = fmt.Errorf("%q: %w", f, err)
			continue
		}
		emit(Entry{Name: name, Scope: wildScope(wild, ScopeSubtree)})
	}
	return skipped
}
