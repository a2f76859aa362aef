package ratelimit

import (
	"sync"

	"golang.org/x/sys/cpu"
)

// shardBits sets the number of independently locked shards.
const (
	shardBits  = 6
	shardCount = 1 << shardBits
)

// evictSample is how many entries a full shard looks at to pick a victim.
const evictSample = 8

// table holds the buckets, bounded in size: a full shard evicts the least
// recently refilled of a few sampled entries (approximate LRU).
type table struct {
	shards   [shardCount]shard
	perShard int
}

type shard struct {
	mu sync.Mutex
	m  map[key]*bucket
	_  cpu.CacheLinePad // keep shards on separate cache lines
}

func newTable(size int) *table {
	t := &table{perShard: max(1, size/shardCount)}
	for i := range t.shards {
		t.shards[i].m = make(map[key]*bucket)
	}
	return t
}

// take charges one query to k's bucket; evicted reports whether an entry
// had to make room.
func (t *table) take(k key, r rates, now uint64) (d Decision, evicted bool) {
	s := &t.shards[k.shard()]
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.m[k]; ok {
		return r.take(b, now), false
	}
	if len(s.m) >= t.perShard {
		s.evict()
		evicted = true
	}
	b := r.fresh(now)
	s.m[k] = &b
	return Pass, evicted
}

// evict drops the entry refilled longest ago among a few (the map's
// iteration order is random).
func (s *shard) evict() {
	var victim key
	oldest, n := ^uint64(0), 0
	for k, b := range s.m {
		if b.last <= oldest {
			victim, oldest = k, b.last
		}
		if n++; n == evictSample {
			break
		}
	}
	delete(s.m, victim)
}

// len returns the number of buckets held.
func (t *table) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// each calls f for every bucket, one shard locked at a time.
func (t *table) each(f func(key, bucket)) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for k, b := range s.m {
			f(k, *b)
		}
		s.mu.Unlock()
	}
}
