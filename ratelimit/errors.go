package ratelimit

import "errors"

// ErrLimited is returned by a resolver.Handler that refuses a query because
// its client prefix is over the rate limit. Transports with a native way to
// say "slow down" map it with errors.Is: DoH answers HTTP 429 Too Many
// Requests, DoQ resets the stream with DOQ_EXCESSIVE_LOAD.
var ErrLimited = errors.New("ratelimit: client over its query rate")
