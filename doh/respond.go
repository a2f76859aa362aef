package doh

import (
	"math"
	"net/http"
	"strconv"

	"github.com/miekg/dns"
)

const noStore = "no-store"

// maxAge is an answer's HTTP lifetime in seconds (Cache-Control: max-age),
// or noStoreAge for one no HTTP cache may keep.
type maxAge int64

// noStoreAge marks a failure: Cache-Control: no-store.
const noStoreAge maxAge = -1

// appendCacheControl appends the Cache-Control value of a.
func (a maxAge) appendCacheControl(b []byte) []byte {
	if a < 0 {
		return append(b, noStore...)
	}
	return strconv.AppendInt(append(b, "max-age="...), int64(a), 10)
}

// answerMaxAge returns the lifetime of an answer: the smallest TTL among the
// answer and authority records (for a SOA, also its negative-caching
// MINIMUM, RFC 2308), so no HTTP cache keeps the answer longer than a DNS
// cache would. Failures (SERVFAIL, REFUSED, …) are not stored at all.
func answerMaxAge(resp *dns.Msg) maxAge {
	if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
		return noStoreAge
	}
	ttl := uint32(math.MaxUint32)
	for _, sec := range [][]dns.RR{resp.Answer, resp.Ns} {
		for _, rr := range sec {
			ttl = min(ttl, rr.Header().Ttl)
			if soa, ok := rr.(*dns.SOA); ok {
				ttl = min(ttl, soa.Minttl)
			}
		}
	}
	if ttl == math.MaxUint32 {
		ttl = 0 // nothing to bound the lifetime: let caches revalidate
	}
	return maxAge(ttl)
}

// answerWriter is a ResponseWriter that takes a 200 answer's headers as
// values (the builtin HTTP/2 and HTTP/3 engines encode them without
// header-map entries); maxAge is Cache-Control's, no-store when negative.
type answerWriter interface {
	WriteAnswer(contentType string, maxAge int64, body []byte)
}

// writeAnswer writes a 200 response with body and its caching headers.
func writeAnswer(w http.ResponseWriter, contentType string, age maxAge, body []byte) {
	if aw, ok := w.(answerWriter); ok {
		aw.WriteAnswer(contentType, int64(age), body)
		return
	}
	h := w.Header()
	vals := []string{contentType, strconv.Itoa(len(body)), string(age.appendCacheControl(nil))} // one slice for three headers
	h["Content-Type"] = vals[0:1:1]
	h["Content-Length"] = vals[1:2:2]
	h["Cache-Control"] = vals[2:3:3]
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// writeError writes a refusal with a short plain-text reason.
func writeError(w http.ResponseWriter, e *httpError) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", noStore)
	if e.allow != "" {
		h.Set("Allow", e.allow)
	}
	w.WriteHeader(e.status)
	_, _ = w.Write([]byte(e.msg + "\n"))
}
