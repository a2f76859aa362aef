package querystats

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/dnsward/dnsward/pseudonym"
)

// Report is what /debug/stats serves and `dnsward stats` prints.
type Report struct {
	Since      time.Time    `json:"since"` // start of the older window counted
	Queries    []QueryCount `json:"queries"`
	TopQueried []NameList   `json:"top_queried"`
	TopBlocked []NameList   `json:"top_blocked"`
	// TopClients are the client IDs with the most queries, and
	// TopBlockedClients those with the most blocked answers.
	TopClients        []Count `json:"top_clients"`
	TopBlockedClients []Count `json:"top_blocked_clients"`
	DistinctClients   uint64  `json:"distinct_clients_today"` // estimated, since 00:00 UTC
	Dropped           uint64  `json:"dropped"`                // records the collector had no room for
}

// QueryCount is the number of queries of one transport and profile.
type QueryCount struct {
	Transport string `json:"transport"`
	Profile   string `json:"profile"`
	Queries   uint64 `json:"queries"`
}

// NameList is the top names of one profile (and blocking category).
type NameList struct {
	Profile  string  `json:"profile"`
	Category string  `json:"category,omitempty"`
	Names    []Count `json:"names"`
}

// Report returns the top n names of the last 12-24 hours.
func (s *Stats) Report(n int) *Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rotate()
	ws := []*window{s.cur}
	if s.prev != nil {
		ws = append(ws, s.prev)
	}
	rep := &Report{Since: ws[len(ws)-1].start, Dropped: s.dropped, Queries: []QueryCount{}, TopQueried: []NameList{}, TopBlocked: []NameList{}}
	var clients pseudonym.Sketch
	queries := map[[2]string]uint64{}
	queried := map[string][]*topK{}
	blocked := map[[2]string][]*topK{}
	var ids, idsHit []*topK
	for _, w := range ws {
		ids, idsHit = append(ids, w.ids), append(idsHit, w.idsHit)
		clients.Merge(&w.clients)
		for k, v := range w.queries {
			queries[k] += v
		}
		for k, v := range w.queried {
			queried[k] = append(queried[k], v)
		}
		for k, v := range w.blocked {
			blocked[k] = append(blocked[k], v)
		}
	}
	rep.DistinctClients = clients.Estimate()
	rep.TopClients, rep.TopBlockedClients = top(n, ids...), top(n, idsHit...)
	for _, k := range slices.SortedFunc(maps.Keys(queries), cmpKeys) {
		rep.Queries = append(rep.Queries, QueryCount{Transport: k[0], Profile: k[1], Queries: queries[k]})
	}
	for _, p := range slices.Sorted(maps.Keys(queried)) {
		rep.TopQueried = append(rep.TopQueried, NameList{Profile: p, Names: top(n, queried[p]...)})
	}
	for _, k := range slices.SortedFunc(maps.Keys(blocked), cmpKeys) {
		rep.TopBlocked = append(rep.TopBlocked, NameList{Profile: k[0], Category: k[1], Names: top(n, blocked[k]...)})
	}
	return rep
}

func cmpKeys(a, b [2]string) int {
	if a[0] != b[0] {
		return strings.Compare(a[0], b[0])
	}
	return strings.Compare(a[1], b[1])
}
