package onboarding

import "sync"

// memo keeps what costs a millisecond or so of CPU to make and depends only
// on its key: QR codes, which vary only with the port a visitor reached the
// page on, and signed .mobileconfig files, which vary with that and the
// signing certificate. A few entries serve every visit; a Host header naming
// ever new ports cannot grow it past memoMax (it starts afresh).
type memo[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

// memoMax bounds the entries one memo keeps.
const memoMax = 256

// get returns key's value, making it with make on a miss. Errors are not kept.
func (c *memo[V]) get(key string, make func() (V, error)) (V, error) {
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := make()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if len(c.m) >= memoMax || c.m == nil {
		c.m = map[string]V{}
	}
	c.m[key] = v
	c.mu.Unlock()
	return v, nil
}
