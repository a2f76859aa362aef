package filter

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// warninglist is one list of the misp-warninglists project: values that
// are known to be benign, so an indicator matching one is a false positive.
type warninglist struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"` // string, hostname, substring, cidr
	List       []string `json:"list"`
	Attributes []string `json:"matching_attributes"`

	values   map[string]bool // string, hostname
	prefixes []netip.Prefix  // cidr
}

// loadWarninglists reads every list.json (or other *.json file) under
// each path, a file or a folder as the misp-warninglists repository lays
// them out.
func loadWarninglists(paths []string) ([]*warninglist, error) {
	var out []*warninglist
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.HasSuffix(path, ".json") {
				return nil
			}
			w, err := readWarninglist(path)
			if err != nil {
				return fmt.Errorf("warninglist %s: %w", path, err)
			}
			out = append(out, w)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func readWarninglist(path string) (*warninglist, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	w := &warninglist{}
	if err := json.Unmarshal(b, w); err != nil {
		return nil, err
	}
	if w.Name == "" {
		return nil, fmt.Errorf("no name")
	}
	switch w.Type {
	case "string", "hostname":
		w.values = make(map[string]bool, len(w.List))
		for _, v := range w.List {
			v = strings.ToLower(strings.TrimSuffix(v, "."))
			if w.Type == "hostname" {
				v = strings.TrimPrefix(v, ".")
			}
			w.values[v] = true
		}
	case "substring":
		for i, v := range w.List {
			w.List[i] = strings.ToLower(v)
		}
	case "cidr":
		for _, v := range w.List {
			if p, err := netip.ParsePrefix(v); err == nil {
				w.prefixes = append(w.prefixes, p.Masked())
			} else if a, err := netip.ParseAddr(v); err == nil {
				w.prefixes = append(w.prefixes, netip.PrefixFrom(a, a.BitLen()))
			}
		}
	default:
		return nil, fmt.Errorf("type %q is not string, hostname, substring or cidr", w.Type)
	}
	return w, nil
}

// matches reports whether the list vetoes in, as MISP matches it: string
// equals the value (or the name), hostname matches the name or one of its
// parents, substring is contained in the value, cidr holds a domain|ip's
// address. A list applies only to its matching_attributes types.
func (w *warninglist) matches(in indicator) bool {
	if len(w.Attributes) > 0 && !slices.Contains(w.Attributes, in.Type) {
		return false
	}
	value := strings.ToLower(in.Value)
	switch w.Type {
	case "string":
		return w.values[in.Name] || value != "" && w.values[value]
	case "hostname":
		for n := in.Name; n != ""; {
			if w.values[n] {
				return true
			}
			_, n, _ = strings.Cut(n, ".")
		}
	case "substring":
		for _, s := range w.List {
			if strings.Contains(in.Name, s) || value != "" && strings.Contains(value, s) {
				return true
			}
		}
	case "cidr":
		if a, err := netip.ParseAddr(in.IP); err == nil {
			for _, p := range w.prefixes {
				if p.Contains(a) {
					return true
				}
			}
		}
	}
	return false
}

// vetoedBy returns the name of the first list that vetoes in, or "".
func vetoedBy(lists []*warninglist, in indicator) string {
	for _, w := range lists {
		if w.matches(in) {
			return w.Name
		}
	}
	return ""
}
