package filter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
)

// listError is a failure to refresh a list, labelled with its stage for
// the dnsward_filter_list_errors_total metric.
type listError struct {
	stage string // download, parse, empty
	err   error
}

func (e *listError) Error() string { return e.stage + ": " + e.err.Error() }
func (e *listError) Unwrap() error { return e.err }

// fetch downloads a remote list with a conditional request. A 200 answer is
// parsed to check it before it replaces the cached copy, so a broken or
// emptied list never replaces a good one. It reports whether the copy changed.
// Only the checks against the last build and replacing the copy take the
// build lock: a slow download must not hold up a reload (SIGHUP).
func (m *Manager) fetch(ctx context.Context, s *source) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Location, nil)
	if err != nil {
		return false, &listError{"download", err}
	}
	m.build.Lock()
	cached := s.meta
	if _, err := os.Stat(s.path); err != nil {
		cached = cacheMeta{} // no copy to revalidate
	}
	m.build.Unlock()
	if cached.ETag != "" {
		req.Header.Set("If-None-Match", cached.ETag)
	}
	if cached.LastModified != "" {
		req.Header.Set("If-Modified-Since", cached.LastModified)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return false, &listError{"download", err}
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return false, nil
	case http.StatusOK:
	default:
		return false, &listError{"download", fmt.Errorf("HTTP status %s", resp.Status)}
	}
	tmp, err := os.CreateTemp(m.cfg.DataDir, "download-*")
	if err != nil {
		return false, &listError{"download", err}
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	n, err := io.Copy(tmp, io.LimitReader(resp.Body, m.cfg.MaxListBytes+1))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > m.cfg.MaxListBytes {
		err = fmt.Errorf("list larger than %d bytes", m.cfg.MaxListBytes)
	}
	if err != nil {
		return false, &listError{"download", err}
	}
	st, err := m.validate(tmp.Name(), s)
	if err != nil {
		return false, err
	}
	m.build.Lock()
	defer m.build.Unlock()
	if err := checkStats(st, s); err != nil { // s.entries is the build's
		return false, err
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return false, &listError{"download", err}
	}
	meta := cacheMeta{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
	b, _ := json.Marshal(meta)
	if err := os.WriteFile(s.path+".meta", b, 0o644); err != nil {
		m.log.Warn("filter: cannot save list metadata", "source", s.name(), "err", err)
	}
	s.meta = meta
	return true, nil
}

// validate parses a downloaded list without keeping it.
func (m *Manager) validate(path string, s *source) (ParseStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return ParseStats{}, &listError{"download", err}
	}
	defer f.Close()
	st, err := Parse(f, s.Format, s.name(), m.log, func(Entry) {})
	if err != nil {
		return ParseStats{}, &listError{"parse", err}
	}
	return st, nil
}

var (
	errUnparsable = errors.New("no line of the list could be used")
	errEmptied    = errors.New("list is empty but had entries before")
)

// checkStats rejects a list that is wholly unparsable, or empty after it
// had entries.
func checkStats(st ParseStats, s *source) error {
	switch {
	case st.Entries == 0 && st.Skipped > 0:
		return &listError{"parse", errUnparsable}
	case st.Entries == 0 && s.entries > 0:
		return &listError{"empty", errEmptied}
	}
	return nil
}
