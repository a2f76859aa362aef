package filter

import (
	"bytes"
	"fmt"
	"path"
	"strings"
)

// Format is a list syntax.
type Format uint8

// The list formats.
const (
	FormatAuto    Format = iota // detect from the content
	FormatHosts                 // hosts files, plain domain lists and "*.example.com" wildcard lines
	FormatAdBlock               // AdBlock-style DNS rules (||example.com^, @@, $important)
	FormatRPZ                   // RPZ zone files
)

var formatNames = [...]string{FormatAuto: "auto", FormatHosts: "hosts", FormatAdBlock: "adblock", FormatRPZ: "rpz"}

// String returns the format's config name.
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "unknown"
}

// ParseFormat reads a format name: auto (or ""), hosts, domains, wildcard
// (the last three share one parser), adblock, rpz.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return FormatAuto, nil
	case "hosts", "domains", "wildcard":
		return FormatHosts, nil
	case "adblock", "abp", "adguard":
		return FormatAdBlock, nil
	case "rpz", "zone":
		return FormatRPZ, nil
	}
	return FormatAuto, fmt.Errorf("filter: unknown list format %q", s)
}

// sniffBytes is how much of a list detection looks at.
const sniffBytes = 64 << 10

// detect guesses a list's format from its name and first bytes.
func detect(source string, head []byte) Format {
	switch strings.ToLower(path.Ext(source)) {
	case ".rpz", ".zone":
		return FormatRPZ
	}
	for len(head) > 0 {
		var line []byte
		line, head, _ = bytes.Cut(head, []byte{'\n'})
		line = bytes.TrimSpace(line)
		switch {
		case len(line) == 0, line[0] == '#':
		case bytes.HasPrefix(line, []byte("||")), bytes.HasPrefix(line, []byte("@@")),
			line[0] == '!', bytes.HasPrefix(line, []byte("[Adblock")):
			return FormatAdBlock
		case line[0] == ';', line[0] == '$' && bytes.HasPrefix(bytes.ToUpper(line), []byte("$TTL")),
			bytes.HasPrefix(bytes.ToUpper(line), []byte("$ORIGIN")):
			return FormatRPZ
		default:
			for _, f := range bytes.Fields(line)[1:] {
				if u := string(bytes.ToUpper(f)); u == "SOA" || u == "CNAME" {
					return FormatRPZ
				}
			}
		}
	}
	return FormatHosts
}
