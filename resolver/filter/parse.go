package filter

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"unsafe"
)

// maxLineBytes is the longest list line accepted; a longer one fails the list.
const maxLineBytes = 1 << 20

// ParseStats counts what a parse saw.
type ParseStats struct {
	Format  Format // the format used (detected when FormatAuto was asked)
	Entries int    // entries emitted
	Skipped int    // lines that could not be used
}

// lineParser turns list lines into entries. parseLine returns an error for
// a line that is skipped (wholly or partly); end reports an unfinished
// construct at the end of the input. The line is only valid during the
// call: a parser copies what it keeps.
type lineParser interface {
	parseLine(line string, emit func(Entry)) error
	end() error
}

var errNotDNS = errors.New("not a DNS rule")

// Parse reads a list in format f (FormatAuto: detected from source's
// extension and the content) and calls emit for every entry. Lines that
// cannot be used are skipped, counted and logged at debug level with source
// and line number; only a read error (or a line over 1 MiB) fails the parse.
//
// Parse makes no string per line for hosts and adblock lists (RPZ zones go
// through miekg/dns's zone parser): an entry's Name may point into the read
// buffer and is only valid during the emit call (strings.Clone keeps it).
func Parse(r io.Reader, f Format, source string, log *slog.Logger, emit func(Entry)) (ParseStats, error) {
	if log == nil {
		log = slog.Default()
	}
	br := bufio.NewReaderSize(r, sniffBytes)
	if f == FormatAuto {
		head, _ := br.Peek(sniffBytes)
		f = detect(source, head)
	}
	st := ParseStats{Format: f}
	count := func(e Entry) { st.Entries++; emit(e) }
	if f == FormatRPZ {
		err := parseRPZ(br, source, log, &st, count)
		return st, err
	}
	lp := newLineParser(f)
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	n := 0
	for sc.Scan() {
		n++
		if err := lp.parseLine(strings.TrimSuffix(transient(sc.Bytes()), "\r"), count); err != nil {
			st.Skipped++
			log.Debug("filter: skipped list line", "source", source, "line", n, "reason", err)
		}
	}
	if err := sc.Err(); err != nil {
		return st, fmt.Errorf("filter: %s line %d: %w", source, n+1, err)
	}
	if err := lp.end(); err != nil {
		st.Skipped++
		log.Debug("filter: skipped list line", "source", source, "line", n, "reason", err)
	}
	return st, nil
}

func newLineParser(f Format) lineParser {
	switch f {
	case FormatAdBlock:
		return adblockParser{}
	}
	return hostsParser{}
}

// transient views b as a string without copying; the string is only valid
// while b's bytes are unchanged.
func transient(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
