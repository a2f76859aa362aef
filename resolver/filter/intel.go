package filter

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// HTTPDoer sends HTTP requests; *http.Client is one. MISP sources take it
// as an interface (Blocky's FileDownloader shape) so that tests and other
// transports can stand in.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// MISPSource is one MISP instance (REST API) or published MISP feed whose
// domain indicators block as a category.
type MISPSource struct {
	Name      string   // unique; names the source in EDE texts, logs and metrics
	Feed      string   // a feed's base URL (manifest.json, <event-uuid>.json); or
	URL       string   // a MISP instance's base URL, pulled with POST /attributes/restSearch
	APIKey    string   // REST only; sent as the Authorization header, never logged
	Category  string   // the category its indicators join
	Tags      []string // only attributes or events with one of these tags (empty: all)
	MaxAge    time.Duration
	Sightings bool     // REST only: report blocked hits to /sightings/add
	Client    HTTPDoer // nil: a client with a 2-minute timeout
}

// ThreatIntelConfig configures the MISP sources of a Manager.
type ThreatIntelConfig struct {
	MISP []MISPSource
	// Warninglists are files or folders of MISP warninglists (JSON); an
	// indicator one of them matches is not blocked.
	Warninglists []string
	// Refresh is how often every source is pulled (default 10m).
	Refresh time.Duration
	// FullPull is how often a REST source is pulled whole rather than by
	// timestamp (default 24h): it drops what an incremental pull cannot
	// see, such as a deleted event.
	FullPull time.Duration
	// SightingSource names this node in the sightings it sends.
	SightingSource string
	// SightingInterval is how often sightings are sent; each attribute is
	// sighted at most once per interval (default 5m).
	SightingInterval time.Duration
}

// intelState is a source's last good set, kept on disk in DataDir as JSON
// lines: the state without its indicators, then one indicator a line.
type intelState struct {
	Indicators map[string]indicator `json:"-"` // attribute UUID → indicator
	// Feeds: the manifest's validators and each event's timestamp.
	ETag         string           `json:"etag,omitempty"`
	LastModified string           `json:"last_modified,omitempty"`
	Events       map[string]int64 `json:"events,omitempty"`
	// REST: the newest attribute timestamp seen and the last full pull.
	Since    int64 `json:"since,omitempty"`
	LastFull int64 `json:"last_full,omitempty"`
}

// intelMeta is what a pull tracks besides the indicators.
type intelMeta struct {
	etag, lastModified string
	since, lastFull    int64
	events             int
}

func (st *intelState) meta() intelMeta {
	return intelMeta{st.ETag, st.LastModified, st.Since, st.LastFull, len(st.Events)}
}

// intelSource is a MISPSource with its state. state is written by the
// pulling goroutine under the Manager's build lock and read by builds.
type intelSource struct {
	MISPSource
	idx     int // position in Manager.intel
	path    string
	client  HTTPDoer
	state   intelState
	sighter *sighter
}

var sourceNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func newIntelSource(s MISPSource, idx int, dataDir string) (*intelSource, error) {
	switch {
	case !sourceNameRE.MatchString(s.Name):
		return nil, fmt.Errorf("MISP source name %q: want letters, digits, '.', '_' or '-'", s.Name)
	case (s.Feed == "") == (s.URL == ""):
		return nil, fmt.Errorf("MISP source %s: set exactly one of feed and url", s.Name)
	case s.Category == "":
		return nil, fmt.Errorf("MISP source %s: no category", s.Name)
	case s.URL != "" && s.APIKey == "":
		return nil, fmt.Errorf("MISP source %s: the REST API needs an API key", s.Name)
	case s.Feed != "" && s.Sightings:
		return nil, fmt.Errorf("MISP source %s: sightings need the REST API (url), not a feed", s.Name)
	case s.MaxAge < 0:
		return nil, fmt.Errorf("MISP source %s: negative max_age", s.Name)
	case dataDir == "":
		return nil, fmt.Errorf("MISP source %s needs a data directory", s.Name)
	}
	for _, raw := range []string{s.Feed, s.URL} {
		if u, err := url.Parse(raw); raw != "" && (err != nil || !IsRemote(raw) || u.Host == "") {
			return nil, fmt.Errorf("MISP source %s: %q is not an http(s) URL", s.Name, LocationName(raw))
		}
	}
	src := &intelSource{MISPSource: s, idx: idx, client: s.Client, path: filepath.Join(dataDir, "misp-"+s.Name+".json")}
	if src.client == nil {
		src.client = &http.Client{Timeout: 2 * time.Minute}
	}
	src.state.Indicators = map[string]indicator{}
	return src, nil
}

// load reads the last good set from disk; a missing file is an empty set.
func (s *intelSource) load() error {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	var st intelState
	for line := 0; sc.Scan(); line++ {
		var err error
		if line == 0 {
			err = json.Unmarshal(sc.Bytes(), &st)
			st.Indicators = map[string]indicator{}
		} else {
			var in indicator
			if err = json.Unmarshal(sc.Bytes(), &in); err == nil {
				st.Indicators[in.Attr] = in
			}
		}
		if err != nil {
			return fmt.Errorf("%s line %d: %w", s.path, line+1, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", s.path, err)
	}
	if st.Indicators != nil {
		s.state = st
	}
	return nil
}

// save writes st as the last good set, atomically.
func (s *intelSource) save(st *intelState) error {
	tmp, err := os.CreateTemp(filepath.Dir(s.path), "misp-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	w := bufio.NewWriterSize(tmp, 1<<20)
	err = json.NewEncoder(w).Encode(st) // one line
	var line []byte
	for _, in := range st.Indicators {
		if err != nil {
			break
		}
		line = in.appendJSON(line[:0])
		_, err = w.Write(line)
	}
	err = errors.Join(err, w.Flush(), tmp.Close())
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}

// location is the source's URL as logs show it.
func (s *intelSource) location() string {
	if s.Feed != "" {
		return LocationName(s.Feed)
	}
	return LocationName(s.URL)
}

// endpoint joins the base URL and a path.
func endpoint(base, path string) string {
	return strings.TrimSuffix(base, "/") + "/" + path
}

// expired reports whether in is older than the source's max_age.
func (s *intelSource) expired(in indicator, now time.Time) bool {
	return s.MaxAge > 0 && in.TS < now.Add(-s.MaxAge).Unix()
}
