package filter

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/miekg/dns"
)

// defaultRPZTTL is the TTL of local data when the zone gives none.
const defaultRPZTTL = 300

// RPZ zones (QNAME triggers only) are read by miekg/dns's ZoneParser: CNAME .
// is NXDOMAIN, CNAME *. is NODATA, CNAME rpz-passthru. an exception, CNAME
// rpz-drop. a block, any other record local data. Owners are taken relative
// to $ORIGIN, or else to the SOA owner. As in BIND and Unbound, an owner "x"
// triggers on x only and "*.x" on the names below x; both are needed to
// cover x's whole subtree.
//
// A ZoneParser stops at its first error, so records are fed to it one line
// at a time by an rpzReader, which knows where each record ends: after an
// error the rest of the record is dropped and counted as skipped, and a new
// ZoneParser goes on with the next record, $ORIGIN, $TTL and the last owner
// restored.

var (
	errUnclosed      = errors.New("unclosed parenthesis")
	errNoOwner       = errors.New("no owner")
	errTrigger       = errors.New("only QNAME triggers are supported")
	errOutsideZone   = errors.New("owner outside the zone")
	errUnsupportedRR = errors.New("unsupported record")
)

// parseRPZ parses an RPZ zone from br into st and emit, logging each record
// it skips; only a read error (or a line over maxLineBytes) fails it.
func parseRPZ(br *bufio.Reader, source string, log *slog.Logger, st *ParseStats, emit func(Entry)) error {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	r := &rpzReader{sc: sc, origin: "."}
	skip := func(err error) {
		st.Skipped++
		log.Debug("filter: skipped list line", "source", source, "line", r.start, "reason", err)
	}
	r.skip = skip
	for {
		zp := dns.NewZoneParser(r, r.origin, source)
		zp.SetDefaultTTL(defaultRPZTTL)
		for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
			if r.eof && r.depth > 0 {
				break // the end of the input closed the record, not ")"
			}
			r.owner = rr.Header().Name
			if err := r.record(rr, emit); err != nil {
				skip(err)
			}
		}
		if r.err != nil {
			return fmt.Errorf("filter: %s line %d: %w", source, r.lines+1, r.err)
		}
		err := zp.Err()
		if err == nil && r.depth > 0 {
			err = errUnclosed
		}
		if err == nil {
			return nil
		}
		skip(err)
		r.resync()
	}
}

// record emits the entry rr stands for, or says why it cannot.
func (r *rpzReader) record(rr dns.RR, emit func(Entry)) error {
	h := rr.Header()
	if h.Name == "" { // continues a record that failed
		return errNoOwner
	}
	owner := strings.ToLower(h.Name)
	if h.Rrtype == dns.TypeSOA && !r.declared && r.zone == "" {
		r.zone = owner
	}
	rel, err := r.relative(owner)
	if err != nil || rel == "" { // "": the apex (SOA, NS)
		return err
	}
	if strings.Contains(rel, ".rpz-") {
		return errTrigger
	}
	name, wild, err := NormalizeName(rel)
	if err != nil {
		return fmt.Errorf("%q: %w", rel, err)
	}
	e := Entry{Name: name, Scope: wildScope(wild, ScopeExact)}
	if c, ok := rr.(*dns.CNAME); ok {
		switch strings.ToLower(c.Target) {
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
		if e.Action != ActBlock || strings.EqualFold(c.Target, "rpz-drop.") {
			emit(e)
			return nil
		}
	}
	h.Name, h.Class = name+".", dns.ClassINET
	if wild {
		h.Name = "*." + h.Name
	}
	e.Action, e.RR = ActLocalData, rr
	emit(e)
	return nil
}

// rpzReader feeds an RPZ zone to a ZoneParser one line at a time and tracks
// what a new ZoneParser needs to resume after an error: where the current
// record ends (parentheses outside quotes and comments), the origin, the
// last $TTL directive and the last owner.
type rpzReader struct {
	sc    *bufio.Scanner
	line  []byte // unread rest of the current line
	nl    bool   // the current line's newline is unread
	next  []byte // text to read before the next line's (a resumed parser's state)
	lines int    // lines read
	start int    // the line the current record starts on
	depth int    // parentheses open at the end of the current line
	eof   bool   // the input has ended
	err   error  // the scanner's error
	skip  func(error)

	origin   string // the ZoneParser's origin: $ORIGIN made absolute, or "."
	declared bool   // origin came from $ORIGIN
	zone     string // the first SOA owner, the zone when there is no $ORIGIN
	ttl      string // the last $TTL directive, for a resumed parser
	owner    string // the last record's owner, for a resumed parser
	undo     func() // reverts the current record's directive, should it fail
	resumed  bool   // a new ZoneParser reads the next line
	owned    bool   // the current record names its owner
}

// ReadByte implements io.ByteReader, which the ZoneParser reads with.
func (r *rpzReader) ReadByte() (byte, error) {
	for {
		switch {
		case len(r.next) > 0:
			c := r.next[0]
			r.next = r.next[1:]
			return c, nil
		case len(r.line) > 0:
			c := r.line[0]
			r.line = r.line[1:]
			return c, nil
		case r.nl:
			r.nl = false
			return '\n', nil
		}
		if !r.fetch() {
			return 0, io.EOF
		}
		if r.resumed {
			r.resumed = false
			if len(r.line) > 0 && (r.line[0] == ' ' || r.line[0] == '\t') && r.owner != "" {
				r.next = append(r.next[:0], r.owner...) // the record continues the last owner's
			}
		}
	}
}

// Read implements io.Reader.
func (r *rpzReader) Read(p []byte) (int, error) {
	for i := range p {
		c, err := r.ReadByte()
		if err != nil {
			if i > 0 {
				return i, nil
			}
			return 0, err
		}
		p[i] = c
	}
	return len(p), nil
}

// fetch reads the next line, noting where records start and what
// directives they hold; false at the end of the input.
func (r *rpzReader) fetch() bool {
	for r.sc.Scan() {
		r.lines++
		line := bytes.TrimSuffix(r.sc.Bytes(), []byte("\r"))
		starts := r.depth == 0
		r.depth = parenDepth(line, r.depth)
		if starts {
			r.start = r.lines
			r.owned = len(line) > 0 && line[0] != ' ' && line[0] != '\t'
			r.undo = nil
			if len(line) > 0 && line[0] == '$' { // a directive: the only case that needs its fields
				if f := bytes.Fields(stripZoneComment(line)); !r.directive(f) {
					r.skip(fmt.Errorf("directive %s: %w", f[0], errUnsupportedRR))
					r.discard()
					continue
				}
			}
		}
		r.line, r.nl = line, true
		return true
	}
	r.eof, r.err = true, r.sc.Err()
	return false
}

// directive notes $ORIGIN and $TTL for a resumed parser and refuses the
// others: $INCLUDE reads local files, $GENERATE makes 65,535 records of one
// line.
func (r *rpzReader) directive(f [][]byte) bool {
	switch strings.ToUpper(string(f[0])) {
	case "$ORIGIN":
		if len(f) == 2 {
			origin, declared := r.origin, r.declared
			r.undo = func() { r.origin, r.declared = origin, declared }
			r.origin, r.declared = absoluteName(strings.ToLower(string(f[1])), r.origin), true
		}
		return true
	case "$TTL":
		if len(f) == 2 && r.depth == 0 { // kept only in its plain form, safe to replay
			ttl := r.ttl
			r.undo = func() { r.ttl = ttl }
			r.ttl = "$TTL " + string(f[1])
		}
		return true
	}
	return false
}

// discard drops the rest of the current record.
func (r *rpzReader) discard() {
	r.line, r.nl = nil, false
	for r.depth > 0 && r.sc.Scan() {
		r.lines++
		r.depth = parenDepth(r.sc.Bytes(), r.depth)
	}
	r.depth = 0 // dropped, even if the input ended inside it
}

// resync drops the rest of the record a ZoneParser failed on, and any
// directive in it, and prepares what a new one starts with: the last $TTL,
// and the last owner should the next record continue it.
func (r *rpzReader) resync() {
	if r.resumed { // the state a resumed parser started with failed: drop it
		r.ttl, r.owner, r.origin, r.declared = "", "", ".", false
	}
	if r.undo != nil {
		r.undo()
		r.undo = nil
	}
	if r.owned {
		// The next record may continue this one's owner, known only while
		// its one line is still in the scanner's buffer.
		r.owner = ""
		if f := bytes.Fields(r.sc.Bytes()); r.start == r.lines && len(f) > 0 {
			r.owner = string(f[0])
		}
	}
	r.discard()
	r.next = r.next[:0]
	if r.ttl != "" {
		r.next = append(append(r.next, r.ttl...), '\n')
	}
	r.resumed = true
}

// relative returns owner (lower-case, absolute) relative to the zone: ""
// for the apex. Without $ORIGIN, owners written relative were made absolute
// under the root, so an owner outside the SOA's zone is taken as it is.
func (r *rpzReader) relative(owner string) (string, error) {
	zone := r.origin
	if !r.declared && r.zone != "" {
		zone = r.zone
	}
	if owner == zone {
		return "", nil
	}
	if zone != "." {
		if rel, ok := strings.CutSuffix(owner, "."+zone); ok {
			return rel, nil
		}
		if r.declared {
			return "", errOutsideZone
		}
	}
	return strings.TrimSuffix(owner, "."), nil
}

// absoluteName qualifies name with origin, as $ORIGIN does.
func absoluteName(name, origin string) string {
	switch {
	case name == "@":
		return origin
	case strings.HasSuffix(name, "."):
		return name
	case origin == ".":
		return name + "."
	}
	return name + "." + origin
}

// parenDepth returns the parentheses open after line, depth being open
// before it; those inside quotes or a comment do not count.
func parenDepth(line []byte, depth int) int {
	quoted := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ';':
			return depth
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		}
	}
	return depth
}

// stripZoneComment removes a ';' comment outside double quotes.
func stripZoneComment(line []byte) []byte {
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
