package filter

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
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
	names := strings.TrimSpace(line)
	if names == "" {
		return nil
	}
	first, rest := names, ""
	if i := strings.IndexFunc(names, unicode.IsSpace); i >= 0 {
		first, rest = names[:i], strings.TrimSpace(names[i:])
	}
	if _, err := parseIP(first); err == nil {
		if names = rest; names == "" {
			return errNoName
		}
	} else if rest != "" {
		return fmt.Errorf("%q: %w", first, errNotDNS)
	}
	var skipped error
	for f := range strings.FieldsSeq(names) {
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
