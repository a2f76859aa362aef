package filter

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Source is one list: a local file (relative paths are resolved against
// ManagerConfig.BaseDir) or an http(s) URL, in a declared or detected format.
type Source struct {
	Location string
	Format   Format
}

// source is a Source with its state. Its fields are guarded by the
// Manager's build lock.
type source struct {
	Source
	remote  bool
	path    string // the file parsed: the list itself, or the cached copy of a remote list
	meta    cacheMeta
	mtime   time.Time // local files: at the last read
	size    int64
	entries int // entries at the last successful build
}

// cacheMeta is what a remote list's conditional requests need; it is kept
// beside the cached copy.
type cacheMeta struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// IsRemote reports whether a list location is an http(s) URL rather than a
// file.
func IsRemote(location string) bool {
	u, err := url.Parse(location)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https")
}

func newSource(s Source, baseDir, dataDir string) (*source, error) {
	src := &source{Source: s}
	if IsRemote(s.Location) {
		if u, _ := url.Parse(s.Location); u.Host == "" {
			return nil, fmt.Errorf("list URL %q has no host", s.Location)
		}
		if dataDir == "" {
			return nil, fmt.Errorf("remote list %q needs a data directory", s.Location)
		}
		sum := sha256.Sum256([]byte(s.Location))
		src.remote = true
		src.path = filepath.Join(dataDir, "list-"+hex.EncodeToString(sum[:12]))
		if b, err := os.ReadFile(src.path + ".meta"); err == nil {
			_ = json.Unmarshal(b, &src.meta) // a damaged sidecar only costs a full download
		}
		return src, nil
	}
	if s.Location == "" {
		return nil, fmt.Errorf("empty list location")
	}
	src.path = s.Location
	if !filepath.IsAbs(src.path) {
		src.path = filepath.Join(baseDir, src.path)
	}
	// A local list missing at start has no earlier version to serve.
	if _, err := os.Stat(src.path); err != nil {
		return nil, fmt.Errorf("list file: %w", err)
	}
	return src, nil
}

// changed reports whether a local file's mtime or size moved since the last read.
func (s *source) changed() bool {
	if s.remote {
		return false
	}
	fi, err := os.Stat(s.path)
	return err == nil && (!fi.ModTime().Equal(s.mtime) || fi.Size() != s.size)
}

// hasCopy reports whether a remote list has a downloaded copy to serve;
// local lists always do.
func (s *source) hasCopy() bool {
	if !s.remote {
		return true
	}
	_, err := os.Stat(s.path)
	return err == nil
}

// name is how logs and errors name the source: never a URL's query string.
func (s *source) name() string { return LocationName(s.Location) }

// LocationName is how a list location is shown in logs and summaries: a
// URL without its query string, user info or fragment, which may hold
// credentials; a file path unchanged.
func LocationName(location string) string {
	if u, err := url.Parse(location); err == nil && IsRemote(location) {
		u.RawQuery, u.User, u.Fragment = "", nil, ""
		return u.String()
	}
	return location
}
