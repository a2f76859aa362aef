package resolver

import (
	"sync"
	"sync/atomic"
)

// cacheShards spreads lock contention; must be a power of two.
const cacheShards = 64

// cacheEntry is one stored answer. wire is never modified after insertion;
// readers unpack what they hand out.
type cacheEntry struct {
	key         cacheKey
	wire        []byte // the answer packed by packAnswer: OPT removed, TTLs as received
	stored      int64  // nanoseconds since the cache's epoch
	ttl         int64  // effective TTL in nanoseconds
	hits        atomic.Uint32
	prefetching atomic.Bool
	failedAt    atomic.Int64 // when a refresh last failed (since epoch); 0: never
	prev, next  *cacheEntry  // LRU list, guarded by the shard lock
}

// cacheStore is a size-bounded, sharded LRU map.
type cacheStore struct {
	shards [cacheShards]cacheShard
}

type cacheShard struct {
	mu    sync.Mutex
	items map[cacheKey]*cacheEntry
	lru   cacheEntry // sentinel: lru.next is the most recent
	max   int
}

func newCacheStore(size int) *cacheStore {
	s := &cacheStore{}
	per := max(size/cacheShards, 1)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.items = make(map[cacheKey]*cacheEntry)
		sh.lru.next, sh.lru.prev = &sh.lru, &sh.lru
		sh.max = per
	}
	return s
}

func (s *cacheStore) shard(k cacheKey) *cacheShard {
	return &s.shards[k.hash()&(cacheShards-1)]
}

// get returns the entry for k and marks it recently used.
func (s *cacheStore) get(k cacheKey) *cacheEntry {
	sh := s.shard(k)
	sh.mu.Lock()
	e := sh.items[k]
	if e != nil {
		sh.unlink(e)
		sh.pushFront(e)
	}
	sh.mu.Unlock()
	return e
}

// put stores e, replacing any entry for the same key and evicting the least
// recently used entry when the shard is full. It returns the number evicted.
func (s *cacheStore) put(e *cacheEntry) int {
	sh := s.shard(e.key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old := sh.items[e.key]; old != nil {
		sh.unlink(old)
	}
	sh.items[e.key] = e
	sh.pushFront(e)
	evicted := 0
	for len(sh.items) > sh.max {
		last := sh.lru.prev
		sh.unlink(last)
		delete(sh.items, last.key)
		evicted++
	}
	return evicted
}

// remove deletes e if it is still the entry stored for its key.
func (s *cacheStore) remove(e *cacheEntry) {
	sh := s.shard(e.key)
	sh.mu.Lock()
	if sh.items[e.key] == e {
		sh.unlink(e)
		delete(sh.items, e.key)
	}
	sh.mu.Unlock()
}

// len returns the number of stored entries.
func (s *cacheStore) len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.items)
		sh.mu.Unlock()
	}
	return n
}

func (sh *cacheShard) unlink(e *cacheEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (sh *cacheShard) pushFront(e *cacheEntry) {
	e.prev, e.next = &sh.lru, sh.lru.next
	sh.lru.next.prev = e
	sh.lru.next = e
}
