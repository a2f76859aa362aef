package filter

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxPendingSightings bounds the attributes waiting for the next send; a
// hit beyond it is dropped and counted.
const maxPendingSightings = 10000

// sighter collects the attributes that blocked a query and sends each,
// at most once per interval, to the instance's /sightings/add. A sighting
// names the attribute, the node (source) and the second of the first hit:
// nothing about the client.
type sighter struct {
	src     *intelSource
	node    string
	log     *slog.Logger
	sent    prometheus.Counter
	dropped prometheus.Counter

	mu      sync.Mutex
	pending map[[16]byte]int64 // attribute → Unix time of its first hit this interval
}

// note records a hit; it never blocks on the network.
func (s *sighter) note(attr [16]byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.pending[attr]; ok {
		return
	}
	if len(s.pending) >= maxPendingSightings {
		s.dropped.Inc()
		return
	}
	s.pending[attr] = time.Now().Unix()
}

// sighting is one /sightings/add body, as PyMISP's MISPSighting writes it;
// type 0 is "seen".
type sighting struct {
	UUID      string `json:"uuid"`
	Type      string `json:"type"`
	Source    string `json:"source,omitempty"`
	Timestamp string `json:"timestamp"`
}

// flush sends what was noted since the last flush. After the first
// failure the rest of the batch is dropped, so a dead MISP costs one
// request per interval.
func (s *sighter) flush(ctx context.Context) {
	s.mu.Lock()
	batch := s.pending
	s.pending = map[[16]byte]int64{}
	s.mu.Unlock()
	failed := false
	for attr, ts := range batch {
		if failed {
			s.dropped.Inc()
			continue
		}
		if err := s.send(ctx, sighting{UUID: formatUUID(attr), Type: "0", Source: s.node, Timestamp: strconv.FormatInt(ts, 10)}); err != nil {
			failed = true
			s.dropped.Inc()
			s.log.Warn("filter: MISP sightings failed, dropping this batch", "source", s.src.Name, "pending", len(batch), "err", err)
			continue
		}
		s.sent.Inc()
	}
}

func (s *sighter) send(ctx context.Context, body sighting) error {
	b, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint(s.src.URL, "sightings/add"), bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.src.send(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}
