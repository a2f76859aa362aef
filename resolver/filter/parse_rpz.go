package filter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// defaultRPZTTL is the TTL of local data when the zone gives none.
const defaultRPZTTL = 300

// rpzParser reads RPZ zone files (QNAME triggers only): CNAME . is
// NXDOMAIN, CNAME *. is NODATA, CNAME rpz-passthru. an exception, CNAME
// rpz-drop. a block, any other record local data. Owners are taken relative
// to $ORIGIN (or to the SOA owner). As in BIND and Unbound, an owner "x"
// triggers on x only and "*.x" on the names below x; both are needed to
// cover x's whole subtree.
type rpzParser struct {
	origin string // lower-case, fully qualified; "" until known
	owner  string // the last owner, for lines that start with blanks
	ttl    uint32
	open   strings.Builder // a record spanning lines inside ( )
	fields []string        // reused for each line's fields
}

// parens blanks out the parentheses of multi-line records.
var parens = strings.NewReplacer("(", " ", ")", " ")

var (
	errUnclosed      = errors.New("unclosed parenthesis")
	errTrigger       = errors.New("only QNAME triggers are supported")
	errOutsideZone   = errors.New("owner outside the zone")
	errUnsupportedRR = errors.New("unsupported record")
)

func (p *rpzParser) end() error {
	if p.open.Len() > 0 {
		return errUnclosed
	}
	return nil
}

func (p *rpzParser) parseLine(line string, emit func(Entry)) error {
	line = stripZoneComment(line)
	if p.open.Len() > 0 || strings.Count(line, "(") > strings.Count(line, ")") {
		p.open.WriteString(line)
		p.open.WriteByte(' ')
		joined := p.open.String()
		if strings.Count(joined, "(") > strings.Count(joined, ")") {
			return nil
		}
		p.open.Reset()
		line = joined
	}
	line = parens.Replace(line)
	fields := p.fields[:0]
	for f := range strings.FieldsSeq(line) {
		fields = append(fields, f)
	}
	p.fields = fields
	if len(fields) == 0 {
		return nil
	}
	if strings.HasPrefix(fields[0], "$") {
		return p.directive(fields)
	}
	if line[0] != ' ' && line[0] != '\t' {
		if fields[0] != p.owner {
			p.owner = strings.Clone(fields[0])
		}
		fields = fields[1:]
	}
	ttl := p.ttl
	for len(fields) > 0 {
		if n, err := strconv.ParseUint(fields[0], 10, 32); err == nil {
			ttl = uint32(n)
		} else if _, ok := dns.StringToClass[strings.ToUpper(fields[0])]; !ok {
			break
		}
		fields = fields[1:]
	}
	if len(fields) == 0 || p.owner == "" {
		return errUnsupportedRR
	}
	typ, rdata := strings.ToUpper(fields[0]), fields[1:]
	if typ == "SOA" && p.origin == "" && strings.HasSuffix(p.owner, ".") {
		p.origin = strings.ToLower(p.owner) // p.owner is a copy
	}
	rel, err := p.relative(p.owner)
	if err != nil {
		return err
	}
	if rel == "" { // the apex: SOA, NS
		return nil
	}
	if strings.Contains(rel, ".rpz-") {
		return errTrigger
	}
	name, wild, err := NormalizeName(rel)
	if err != nil {
		return fmt.Errorf("%q: %w", rel, err)
	}
	e := Entry{Name: name, Scope: wildScope(wild, ScopeExact)}
	if typ == "CNAME" && len(rdata) == 1 {
		switch strings.ToLower(rdata[0]) {
		case ".":
			e.Action = ActNXDomain
		case "*.":
			e.Action = ActNoData
		case "rpz-passthru.":
			e.Action = ActAllow
		case "rpz-drop.":
			e.Action = ActBlock
		case "rpz-tcp-only.":
			return errUnsupportedRR
		}
		if e.Action != ActBlock || strings.EqualFold(rdata[0], "rpz-drop.") {
			emit(e)
			return nil
		}
		rdata = []string{p.absolute(rdata[0])}
	}
	owner := name + "."
	if wild {
		owner = "*." + owner
	}
	rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", owner, ttl, typ, strings.Join(rdata, " ")))
	if err != nil || rr == nil {
		return fmt.Errorf("%s record: %w", typ, errUnsupportedRR)
	}
	e.Action, e.RR = ActLocalData, rr
	emit(e)
	return nil
}

func (p *rpzParser) directive(f []string) error {
	switch strings.ToUpper(f[0]) {
	case "$ORIGIN":
		if len(f) == 2 {
			p.origin = strings.Clone(strings.ToLower(dns.Fqdn(f[1])))
			return nil
		}
	case "$TTL":
		if len(f) == 2 {
			if n, err := strconv.ParseUint(f[1], 10, 32); err == nil {
				p.ttl = uint32(n)
				return nil
			}
		}
	}
	return fmt.Errorf("directive %s: %w", f[0], errUnsupportedRR)
}

// relative returns owner relative to the zone origin ("" for the apex).
func (p *rpzParser) relative(owner string) (string, error) {
	owner = strings.ToLower(owner)
	if owner == "@" {
		return "", nil
	}
	if !strings.HasSuffix(owner, ".") {
		return owner, nil
	}
	if p.origin == "" || p.origin == "." {
		return strings.TrimSuffix(owner, "."), nil
	}
	if owner == p.origin {
		return "", nil
	}
	rel, ok := strings.CutSuffix(owner, "."+p.origin)
	if !ok {
		return "", errOutsideZone
	}
	return rel, nil
}

// absolute qualifies a relative record target with the origin.
func (p *rpzParser) absolute(name string) string {
	if strings.HasSuffix(name, ".") || p.origin == "" {
		return dns.Fqdn(name)
	}
	return name + "." + p.origin
}

// stripZoneComment removes a ';' comment outside double quotes.
func stripZoneComment(line string) string {
	quoted := false
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ';':
			if !quoted {
				return line[:i]
			}
		}
	}
	return line
}
