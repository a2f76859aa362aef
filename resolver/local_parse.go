package resolver

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// localTypes are the record types local data may hold.
var localTypes = map[uint16]bool{
	dns.TypeA: true, dns.TypeAAAA: true, dns.TypeCNAME: true, dns.TypeTXT: true, dns.TypePTR: true,
	dns.TypeMX: true, dns.TypeSRV: true, dns.TypeNS: true, dns.TypeSOA: true,
}

// defaultTTL sets the TTL of records written without one (and without a
// $TTL before them): an hour, as BIND does; miekg/dns would make it 0.
const defaultTTL = "$TTL 3600\n"

// withDefaultTTL puts defaultTTL in front of r; zoneParseError takes its
// line off again.
func withDefaultTTL(r io.Reader) io.Reader {
	return io.MultiReader(strings.NewReader(defaultTTL), r)
}

// ParseLocalRecord parses one local record in RFC 1035 presentation format
// ("nas.home.example. 300 IN A 192.0.2.5"; without a TTL, 3600). Owner
// names must be fully qualified.
func ParseLocalRecord(line string) (dns.RR, error) {
	if strings.ContainsAny(line, "\n\r") {
		return nil, errors.New("one record a line")
	}
	zp := dns.NewZoneParser(withDefaultTTL(strings.NewReader(line)), "", "")
	rr, ok := zp.Next()
	if err := zp.Err(); err != nil {
		return nil, errors.New(trimParseError(err.Error()))
	}
	if !ok {
		return nil, errors.New("no record")
	}
	if _, more := zp.Next(); more {
		return nil, errors.New("one record a line")
	}
	return rr, checkLocalRR(rr)
}

// ParseLocalZoneFile reads a zone file (RFC 1035 master file: $ORIGIN and
// $TTL, relative names, no $INCLUDE; without a TTL, 3600). It must hold exactly one SOA record,
// and every record must lie at or below the SOA's owner. Errors name the
// file and, where the parser knows it, the line.
func ParseLocalZoneFile(path string) ([]dns.RR, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseLocalZone(f, path)
}

func parseLocalZone(r io.Reader, path string) ([]dns.RR, error) {
	zp := dns.NewZoneParser(withDefaultTTL(r), "", path)
	var rrs []dns.RR
	var soa *dns.SOA
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if err := checkLocalRR(rr); err != nil {
			return nil, fmt.Errorf("%s: %q: %w", path, rr.String(), err)
		}
		if s, ok := rr.(*dns.SOA); ok {
			if soa != nil {
				return nil, fmt.Errorf("%s: %q: a second SOA record: a zone file holds one zone", path, rr.String())
			}
			soa = s
		}
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, errors.New(zoneParseError(err.Error(), path))
	}
	if soa == nil {
		return nil, fmt.Errorf("%s: no SOA record: a zone file names its zone with one", path)
	}
	apex := lowerName(soa.Hdr.Name)
	for _, rr := range rrs {
		if !inZone(lowerName(rr.Header().Name), apex) {
			return nil, fmt.Errorf("%s: %q: outside the zone %s", path, rr.String(), apex)
		}
	}
	return rrs, nil
}

// checkLocalRR accepts the records local data may hold.
func checkLocalRR(rr dns.RR) error {
	h := rr.Header()
	switch {
	case h.Class != dns.ClassINET:
		return fmt.Errorf("class %s: only IN records are answered", dns.ClassToString[h.Class])
	case !localTypes[h.Rrtype]:
		return fmt.Errorf("type %s is not supported (A, AAAA, CNAME, TXT, PTR, MX, SRV, NS, SOA)", dns.TypeToString[h.Rrtype])
	case h.Name == ".":
		return errors.New("the root cannot be local data")
	case strings.Contains(strings.TrimPrefix(h.Name, "*."), "*"):
		return fmt.Errorf("%s: a wildcard is only the whole leftmost label (*.name)", h.Name)
	}
	return nil
}

// parseErrorLine matches where miekg/dns says a parse error is.
var parseErrorLine = regexp.MustCompile(`^(?:.*?: )?(dns: .*) at line: (\d+):\d+$`)

// trimParseError drops the position from an error about a single line.
func trimParseError(msg string) string {
	if m := parseErrorLine.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return msg
}

// zoneParseError rewrites an error of miekg/dns's zone parser as
// "path:line: problem".
func zoneParseError(msg, path string) string {
	if m := parseErrorLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[2])
		return fmt.Sprintf("%s:%d: %s", path, max(line-1, 1), m[1])
	}
	return path + ": " + msg
}
