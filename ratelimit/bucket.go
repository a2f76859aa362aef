package ratelimit

// nano is one token in the nanotokens a bucket holds.
const nano = 1_000_000_000

// bucket is one client prefix's token bucket; the XDP program keeps the same
// fields (struct bucket in xdp/dnsward.c).
type bucket struct {
	last   uint64 // clock reading of the last refill, ns
	tokens uint64 // nanotokens left
	excess uint32 // queries over the limit since the bucket was created
}

// rates is the bucket arithmetic derived from Limits.
type rates struct {
	rate   uint64 // tokens per second = nanotokens per ns
	cap    uint64 // Burst tokens in nanotokens
	fillNS uint64 // time to fill an empty bucket
	slip   uint32
}

func newRates(l Limits) rates {
	r := rates{rate: uint64(l.QPS), cap: uint64(l.Burst) * nano, slip: uint32(l.Slip)}
	r.fillNS = (r.cap + r.rate - 1) / r.rate
	return r
}

// fresh returns a new bucket that has just paid for one query.
func (r rates) fresh(now uint64) bucket {
	return bucket{last: now, tokens: r.cap - nano}
}

// take charges one query to b at time now. It mirrors charge() in the XDP
// program: a clock reading older than b.last never refills the bucket.
func (r rates) take(b *bucket, now uint64) Decision {
	elapsed := uint64(0)
	if now > b.last {
		elapsed = now - b.last
		b.last = now
	}
	tokens := b.tokens
	if elapsed >= r.fillNS {
		tokens = r.cap
	} else {
		tokens += elapsed * r.rate // < cap because elapsed < fillNS
	}
	tokens = min(tokens, r.cap)
	if tokens >= nano {
		b.tokens = tokens - nano
		return Pass
	}
	b.tokens = tokens
	b.excess++
	if r.slip != 0 && b.excess%r.slip == 0 {
		return Slip
	}
	return Drop
}
