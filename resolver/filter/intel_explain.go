package filter

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// ExplainIntel says, one line each, which indicators of the MISP sets kept
// in dataDir match name and whether they block it: in a category, or not
// because a warninglist matches them (a false positive) or they are older
// than max_age. It reads only files: no MISP is asked.
func ExplainIntel(cfg ThreatIntelConfig, dataDir, name string) ([]string, error) {
	name, _, err := NormalizeName(name)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	lists, err := loadWarninglists(cfg.Warninglists)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	var out []string
	now := time.Now()
	for i, sc := range cfg.MISP {
		s, err := newIntelSource(sc, i, dataDir)
		if err != nil {
			return nil, fmt.Errorf("filter: %w", err)
		}
		if err := s.load(); err != nil {
			out = append(out, fmt.Sprintf("%s: the last good set is unreadable: %v", s.Name, err))
			continue
		}
		for _, id := range slices.Sorted(maps.Keys(s.state.Indicators)) {
			in := s.state.Indicators[id]
			if in.Name != name && (in.exact() || !strings.HasSuffix(name, "."+in.Name)) {
				continue
			}
			verdict := "blocks in category " + s.Category
			if w := vetoedBy(lists, in); w != "" {
				verdict = fmt.Sprintf("not blocked: warninglist %q matches it", w)
			} else if s.expired(in, now) {
				verdict = "not blocked: older than max_age"
			}
			value := in.Value
			if value == "" {
				value = in.Name
			}
			out = append(out, fmt.Sprintf("%s: %s %s (attribute %s, event %s): %s", s.Name, in.Type, value, in.Attr, in.Event, verdict))
		}
	}
	if len(out) == 0 {
		out = append(out, "no MISP indicator kept in "+dataDir+" matches "+name)
	}
	return out, nil
}
