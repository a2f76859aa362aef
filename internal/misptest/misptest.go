// Package misptest is a stand-in MISP for tests: it serves a feed
// (manifest.json and one <event-uuid>.json per published event, as
// PyMISP's feed generator writes them) and POST /attributes/restSearch
// from one set of attributes, checks the Authorization header of API calls
// and records the bodies posted to /sightings/add.
package misptest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Attr is one attribute of the stand-in MISP.
type Attr struct {
	UUID, Type, Value string
	Event             string // event UUID
	ToIDS, Deleted    bool
	Published         bool   // the event's
	Object            string // the object (such as "domain-ip") holding it; "" for none
	Timestamp         int64
	Tags              []string // the event's tags
}

// Server is the stand-in MISP.
type Server struct {
	*httptest.Server
	Key string // the API key REST calls must send

	mu        sync.Mutex
	attrs     []Attr
	down      bool
	sightings []map[string]any
	queries   []map[string]any
	badAuth   int
	override  map[string]string
	notMod    int
}

// Start runs a server (TLS when tls is set) holding attrs.
func Start(key string, tls bool, attrs ...Attr) *Server {
	s := &Server{Key: key, attrs: attrs}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /feed/{file}", s.feed)
	mux.HandleFunc("POST /attributes/restSearch", s.auth(s.restSearch))
	mux.HandleFunc("POST /sightings/add", s.auth(s.sighting))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		down := s.down
		body, overridden := s.override[r.URL.Path]
		s.mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		if overridden {
			io.WriteString(w, body)
			return
		}
		mux.ServeHTTP(w, r)
	})
	if tls {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	return s
}

// Set replaces the attributes.
func (s *Server) Set(attrs ...Attr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attrs = attrs
}

// SetDown makes every request fail with 503 (true) or be served (false).
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// Override serves body for path instead of what the attributes make
// (a malformed feed, say); "" removes the override.
func (s *Server) Override(path, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.override == nil {
		s.override = map[string]string{}
	}
	if body == "" {
		delete(s.override, path)
	} else {
		s.override[path] = body
	}
}

// NotModified counts feed requests answered 304 Not Modified.
func (s *Server) NotModified() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.notMod
}

// Sightings returns the bodies posted to /sightings/add so far.
func (s *Server) Sightings() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sightings)
}

// Queries returns the restSearch bodies received so far.
func (s *Server) Queries() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.queries)
}

// BadAuth counts API calls refused for a wrong or missing key.
func (s *Server) BadAuth() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.badAuth
}

func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != s.Key {
			s.mu.Lock()
			s.badAuth++
			s.mu.Unlock()
			http.Error(w, `{"message":"Authentication failed."}`, http.StatusForbidden)
			return
		}
		next(w, r)
	}
}

func (s *Server) sighting(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.sightings = append(s.sightings, body)
	s.mu.Unlock()
	io.WriteString(w, `{"Sighting":{}}`)
}

// restSearch filters the attributes as MISP does for the fields dnsward
// sends: type, tags, to_ids, published, timestamp (≥), deleted.
func (s *Server) restSearch(w http.ResponseWriter, r *http.Request) {
	var q map[string]any
	if err := json.NewDecoder(r.Body).Decode(&q); err != nil || q["returnFormat"] != "json" {
		http.Error(w, "bad query", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.queries = append(s.queries, q)
	attrs := slices.Clone(s.attrs)
	s.mu.Unlock()
	out := []map[string]any{}
	for _, a := range attrs {
		if !matches(q, a) {
			continue
		}
		m := attrJSON(a)
		m["Event"] = map[string]any{"uuid": a.Event, "info": "test event", "published": a.Published, "org_id": "1"}
		out = append(out, m)
	}
	if len(out) == 0 {
		io.WriteString(w, `{"response": []}`) // what MISP answers when nothing matched
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"response": map[string]any{"Attribute": out}})
}

func matches(q map[string]any, a Attr) bool {
	if types, ok := q["type"].([]any); ok && !slices.Contains(types, any(a.Type)) {
		return false
	}
	if tags, ok := q["tags"].([]any); ok && !slices.ContainsFunc(a.Tags, func(t string) bool { return slices.Contains(tags, any(t)) }) {
		return false
	}
	if v, ok := q["to_ids"].(float64); ok && (v == 1) != a.ToIDS {
		return false
	}
	if v, ok := q["published"].(float64); ok && (v == 1) != a.Published {
		return false
	}
	if v, ok := q["timestamp"].(float64); ok && a.Timestamp < int64(v) {
		return false
	}
	deleted := []any{float64(0)}
	if d, ok := q["deleted"].([]any); ok {
		deleted = d
	}
	return slices.Contains(deleted, any(float64(btoi(a.Deleted))))
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func attrJSON(a Attr) map[string]any {
	return map[string]any{
		"uuid": a.UUID, "type": a.Type, "value": a.Value, "category": "Network activity",
		"to_ids": a.ToIDS, "deleted": a.Deleted, "disable_correlation": false, "comment": "",
		"timestamp": strconv.FormatInt(a.Timestamp, 10),
	}
}

// feed serves manifest.json and the published events, as a feed
// generator writes them: unpublished events and deleted attributes left out.
func (s *Server) feed(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	attrs := slices.Clone(s.attrs)
	s.mu.Unlock()
	type event struct {
		ts      int64
		tags    []string
		attrs   []map[string]any
		objects map[string][]map[string]any
	}
	events := map[string]*event{}
	for _, a := range attrs {
		if !a.Published || a.Deleted {
			continue
		}
		e := events[a.Event]
		if e == nil {
			e = &event{tags: a.Tags, objects: map[string][]map[string]any{}}
			events[a.Event] = e
		}
		e.ts = max(e.ts, a.Timestamp)
		if a.Object != "" {
			e.objects[a.Object] = append(e.objects[a.Object], attrJSON(a))
		} else {
			e.attrs = append(e.attrs, attrJSON(a))
		}
	}
	tags := func(names []string) []map[string]any {
		out := []map[string]any{}
		for _, n := range names {
			out = append(out, map[string]any{"colour": "#ffffff", "local": false, "name": n, "relationship_type": ""})
		}
		return out
	}
	file := r.PathValue("file")
	if file == "manifest.json" {
		m := map[string]any{}
		for id, e := range events {
			m[id] = map[string]any{"Orgc": map[string]any{"name": "CERT-TEST"}, "Tag": tags(e.tags), "info": "test event",
				"timestamp": e.ts}
		}
		body, _ := json.Marshal(m)
		etag := fmt.Sprintf(`"%x"`, sha256.Sum256(body))
		if r.Header.Get("If-None-Match") == etag {
			s.mu.Lock()
			s.notMod++
			s.mu.Unlock()
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Write(body)
		return
	}
	e := events[strings.TrimSuffix(file, ".json")]
	if e == nil {
		http.NotFound(w, r)
		return
	}
	objs := []map[string]any{}
	for name, as := range e.objects {
		objs = append(objs, map[string]any{"name": name, "meta-category": "network", "Attribute": as})
	}
	json.NewEncoder(w).Encode(map[string]any{"Event": map[string]any{
		"uuid": strings.TrimSuffix(file, ".json"), "published": true, "info": "test event",
		"timestamp": strconv.FormatInt(e.ts, 10), "Tag": tags(e.tags), "Attribute": e.attrs, "Object": objs,
	}})
}
