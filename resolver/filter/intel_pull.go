package filter

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"time"
)

// maxIntelBytes bounds one MISP answer (a restSearch of a million
// attributes is about 400 MB).
const maxIntelBytes = 1 << 30

// applyFunc changes a source's state under the build lock and reports
// whether its indicators changed.
type applyFunc func(st *intelState) bool

// send sends a request, with the API key for a REST source, and returns a
// 200 or 304 answer (its body bounded by maxIntelBytes); any other status
// is an error.
func (s *intelSource) send(req *http.Request) (*http.Response, error) {
	req.Header.Set("Accept", "application/json")
	if s.URL != "" {
		req.Header.Set("Authorization", s.APIKey)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, &listError{"download", err}
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNotModified:
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(resp.Body, maxIntelBytes), resp.Body}
		return resp, nil
	}
	resp.Body.Close()
	return nil, &listError{"download", fmt.Errorf("%s %s: HTTP status %s", req.Method, LocationName(req.URL.String()), resp.Status)}
}

// pullFeed fetches a feed: manifest.json with a conditional request, then
// each event whose timestamp changed. Events gone from the manifest are
// dropped. Any failure leaves the state as it was.
func (s *intelSource) pullFeed(ctx context.Context) (applyFunc, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint(s.Feed, "manifest.json"), nil)
	if err != nil {
		return nil, &listError{"download", err}
	}
	old := s.state // read without the lock: only the puller writes it
	if old.ETag != "" {
		req.Header.Set("If-None-Match", old.ETag)
	}
	if old.LastModified != "" {
		req.Header.Set("If-Modified-Since", old.LastModified)
	}
	resp, err := s.send(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return func(*intelState) bool { return false }, nil
	}
	manifest, err := decodeManifest(resp.Body)
	if err != nil {
		return nil, &listError{"parse", err}
	}
	byEvent := map[string][]indicator{}
	for _, in := range old.Indicators {
		byEvent[in.Event] = append(byEvent[in.Event], in)
	}
	next := map[string]indicator{}
	events := map[string]int64{}
	for _, id := range slices.Sorted(maps.Keys(manifest)) {
		ts := int64(manifest[id].Timestamp)
		events[id] = ts
		if prev, ok := old.Events[id]; ok && prev == ts {
			for _, in := range byEvent[id] {
				next[in.Attr] = in
			}
			continue
		}
		if err := s.pullEvent(ctx, id, next); err != nil {
			return nil, err
		}
	}
	etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	return func(st *intelState) bool {
		changed := !maps.EqualFunc(st.Indicators, next, func(a, b indicator) bool { return a == b })
		st.Indicators, st.Events, st.ETag, st.LastModified = next, events, etag, lastMod
		return changed
	}, nil
}

// pullEvent fetches <id>.json and adds its indicators to into.
func (s *intelSource) pullEvent(ctx context.Context, id string, into map[string]indicator) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint(s.Feed, id+".json"), nil)
	if err != nil {
		return &listError{"download", err}
	}
	resp, err := s.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &listError{"download", fmt.Errorf("event %s: HTTP status %s", id, resp.Status)}
	}
	_, err = decodeFeedEvent(resp.Body, s.Tags, func(in indicator) {
		if in.Event == id {
			into[in.Attr] = in
		}
	})
	if err != nil {
		return &listError{"parse", fmt.Errorf("event %s: %w", id, err)}
	}
	return nil
}

// restQuery is the body of POST /attributes/restSearch.
type restQuery struct {
	ReturnFormat string   `json:"returnFormat"`
	Type         []string `json:"type"`
	Tags         []string `json:"tags,omitempty"`
	ToIDS        *int     `json:"to_ids,omitempty"`
	Published    *int     `json:"published,omitempty"`
	Timestamp    int64    `json:"timestamp,omitempty"`
	Deleted      []int    `json:"deleted,omitempty"`
}

// pullREST asks the instance for its domain attributes: the first pull
// (and one every fullEvery) is full, with to_ids and published set; the
// others ask for what changed since the newest timestamp seen, deleted
// attributes included, and drop what is deleted, no longer to_ids or
// unpublished.
func (s *intelSource) pullREST(ctx context.Context, now time.Time, fullEvery time.Duration) (applyFunc, error) {
	old := s.state
	full := old.LastFull == 0 || now.Sub(time.Unix(old.LastFull, 0)) >= fullEvery
	one := 1
	q := restQuery{ReturnFormat: "json", Type: mispTypes, Tags: s.Tags}
	if full {
		q.ToIDS, q.Published = &one, &one
	} else {
		q.Timestamp, q.Deleted = old.Since, []int{0, 1}
	}
	body, _ := json.Marshal(q)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint(s.URL, "attributes/restSearch"), bytes.NewReader(body))
	if err != nil {
		return nil, &listError{"download", err}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.send(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var changes []restChange       // incremental pulls
	next := map[string]indicator{} // full pulls
	since := old.Since
	if _, err := decodeRestSearch(resp.Body, func(c restChange) {
		since = max(since, c.in.TS)
		switch {
		case !full:
			changes = append(changes, c)
		case !c.drop:
			next[c.in.Attr] = c.in
		}
	}); err != nil {
		return nil, &listError{"parse", fmt.Errorf("restSearch: %w", err)}
	}
	return func(st *intelState) bool {
		changed := false
		if full {
			changed = !maps.EqualFunc(st.Indicators, next, func(a, b indicator) bool { return a == b })
			st.Indicators, st.LastFull = next, now.Unix()
		} else {
			for _, c := range changes {
				prev, had := st.Indicators[c.in.Attr]
				switch {
				case c.drop && had:
					delete(st.Indicators, c.in.Attr)
					changed = true
				case !c.drop && (!had || prev != c.in):
					st.Indicators[c.in.Attr] = c.in
					changed = true
				}
			}
		}
		st.Since = since
		return changed
	}, nil
}
