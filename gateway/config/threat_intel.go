package config

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// ThreatIntel configures MISP sources whose domain indicators block as a
// list category, and the warninglists that veto false positives.
type ThreatIntel struct {
	MISP         []MISP   `yaml:"misp"`
	Warninglists []string `yaml:"warninglists"` // files or folders of MISP warninglists (JSON)
	Refresh      Duration `yaml:"refresh"`      // how often every source is pulled; default 10m
	// SightingSource names this node in the sightings it sends (default: the server_name).
	SightingSource string `yaml:"sighting_source"`
	// SightingInterval is how often sightings are sent, each attribute at
	// most once per interval; default 5m.
	SightingInterval Duration `yaml:"sighting_interval"`
}

// MISP is one MISP feed or instance.
type MISP struct {
	Name       string   `yaml:"name"`
	Feed       string   `yaml:"feed"`         // feed base URL (manifest.json, <event-uuid>.json)
	URL        string   `yaml:"url"`          // instance base URL: POST /attributes/restSearch
	APIKeyFile string   `yaml:"api_key_file"` // REST: the key, read from a file
	APIKeyEnv  string   `yaml:"api_key_env"`  // REST: or from an environment variable
	CAFile     string   `yaml:"ca_file"`      // PEM roots to trust for this source (default: the system's)
	Category   string   `yaml:"category"`
	Tags       []string `yaml:"tags"`      // only events/attributes with one of these tags
	MaxAge     Duration `yaml:"max_age"`   // drop indicators not updated for this long (0: keep)
	Sightings  bool     `yaml:"sightings"` // report blocked hits to /sightings/add (REST only)
}

var mispNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ListCategories is every category a profile may block: those under lists
// and those MISP sources fill.
func (c *Config) ListCategories() []string {
	set := map[string]bool{}
	for cat := range c.Lists {
		set[cat] = true
	}
	if c.ThreatIntel != nil {
		for _, m := range c.ThreatIntel.MISP {
			if m.Category != "" {
				set[m.Category] = true
			}
		}
	}
	return sortedKeys(set)
}

// ListDataDir is where remote lists and MISP sets are kept.
func (c *Config) ListDataDir() string { return filepath.Join(c.DataDir, "lists") }

// mispCategoryHint names threat_intel.misp where categories may come from.
func (c *Config) mispCategoryHint() string {
	if c.ThreatIntel == nil {
		return ""
	}
	return " or threat_intel.misp"
}

// APIKey reads a REST source's key from its file or environment variable.
func (m MISP) APIKey() (string, error) {
	switch {
	case m.APIKeyFile != "":
		b, err := os.ReadFile(m.APIKeyFile)
		if err != nil {
			return "", err
		}
		return strings.TrimSpace(string(b)), nil
	case m.APIKeyEnv != "":
		return os.Getenv(m.APIKeyEnv), nil
	}
	return "", nil
}

// CAPool reads ca_file; nil when unset.
func (m MISP) CAPool() (*x509.CertPool, error) {
	if m.CAFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(m.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", m.CAFile)
	}
	return pool, nil
}

func (c *Config) applyThreatIntelDefaults() {
	t := c.ThreatIntel
	if t == nil {
		return
	}
	if t.Refresh == 0 {
		t.Refresh = Duration(10 * 60 * 1e9)
	}
	if t.SightingInterval == 0 {
		t.SightingInterval = Duration(5 * 60 * 1e9)
	}
	if t.SightingSource == "" {
		t.SightingSource = c.ServerName
	}
	for i := range t.Warninglists {
		t.Warninglists[i] = c.Path(t.Warninglists[i])
	}
	for i := range t.MISP {
		m := &t.MISP[i]
		m.APIKeyFile, m.CAFile = c.Path(m.APIKeyFile), c.Path(m.CAFile)
	}
}

func (c *Config) validateThreatIntel() Errors {
	t := c.ThreatIntel
	if t == nil {
		return nil
	}
	var errs Errors
	add := func(key, format string, args ...any) { errs = append(errs, c.errAt(key, format, args...)) }
	if t.Refresh < Duration(1e9) {
		add("threat_intel.refresh", "must be at least 1s, got %s", t.Refresh.Std())
	}
	if t.SightingInterval < Duration(1e9) {
		add("threat_intel.sighting_interval", "must be at least 1s, got %s", t.SightingInterval.Std())
	}
	for i, w := range t.Warninglists {
		if _, err := os.Stat(w); err != nil {
			add(fmt.Sprintf("threat_intel.warninglists[%d]", i), "%s does not exist", w)
		}
	}
	names := map[string]bool{}
	for i, m := range t.MISP {
		key := fmt.Sprintf("threat_intel.misp[%d]", i)
		if !mispNameRE.MatchString(m.Name) {
			add(key+".name", "want 1-64 letters, digits, '.', '_' or '-', got %q", m.Name)
		} else if names[m.Name] {
			add(key+".name", "%q is used by two sources", m.Name)
		}
		names[m.Name] = true
		if (m.Feed == "") == (m.URL == "") {
			add(key, "set exactly one of feed (a MISP feed) and url (a MISP instance)")
		}
		for _, f := range []struct{ key, v string }{{"feed", m.Feed}, {"url", m.URL}} {
			if u, err := url.Parse(f.v); f.v != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
				add(key+"."+f.key, "expected an http(s) URL, got %q", f.v)
			}
		}
		if m.Category == "" {
			add(key+".category", "is required: the list category its indicators join")
		}
		if m.URL != "" {
			switch {
			case m.APIKeyFile != "" && m.APIKeyEnv != "":
				add(key+".api_key_file", "set only one of api_key_file and api_key_env")
			case m.APIKeyFile == "" && m.APIKeyEnv == "":
				add(key+".url", "the REST API needs api_key_file or api_key_env")
			default:
				if k, err := m.APIKey(); err != nil {
					add(key+".api_key_file", "%v", err)
				} else if k == "" {
					add(key+keyField(m), "the API key is empty")
				}
			}
		} else if m.Sightings {
			add(key+".sightings", "needs url: a feed cannot take sightings")
		}
		if _, err := m.CAPool(); err != nil {
			add(key+".ca_file", "%v", err)
		}
	}
	return errs
}

func keyField(m MISP) string {
	if m.APIKeyFile != "" {
		return ".api_key_file"
	}
	return ".api_key_env"
}
