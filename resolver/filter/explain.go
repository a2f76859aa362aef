package filter

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Explain names the entries of category's lists that block name
// (lower-case, fully qualified): each list and, for every format but RPZ
// (whose entries take their meaning from the zone around them), the line.
// It reads the files a build reads (local lists, copies of remote ones);
// it is for `dnsward check --explain`, not for the query path.
func (m *Manager) Explain(category, name string) []string {
	c, ok := m.cats[category]
	if !ok {
		return nil
	}
	name = strings.TrimSuffix(name, ".")
	quiet := slog.New(slog.DiscardHandler)
	var out []string
	for _, s := range c.sources {
		f, err := os.Open(s.path)
		if err != nil {
			continue
		}
		br := bufio.NewReaderSize(f, sniffBytes)
		format := s.Format
		if format == FormatAuto {
			head, _ := br.Peek(sniffBytes)
			format = detect(s.name(), head)
		}
		if format == FormatRPZ {
			hit := false
			Parse(br, format, s.name(), quiet, func(e Entry) { hit = hit || entryBlocks(e, name) })
			if hit {
				out = append(out, fmt.Sprintf("%s (RPZ) has an entry for it", s.name()))
			}
			f.Close()
			continue
		}
		sc := bufio.NewScanner(br)
		sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			hit := false
			Parse(strings.NewReader(line), format, s.name(), quiet, func(e Entry) { hit = hit || entryBlocks(e, name) })
			if hit {
				out = append(out, fmt.Sprintf("%s line %d: %s", s.name(), n, strings.TrimSpace(line)))
			}
		}
		f.Close()
	}
	return out
}

// entryBlocks reports whether entry e blocks name (no trailing dot).
func entryBlocks(e Entry, name string) bool {
	if e.Action == ActAllow {
		return false
	}
	n := strings.TrimSuffix(strings.ToLower(e.Name), ".")
	switch e.Scope {
	case ScopeExact:
		return name == n
	case ScopeBelow:
		return strings.HasSuffix(name, "."+n)
	}
	return name == n || strings.HasSuffix(name, "."+n)
}
