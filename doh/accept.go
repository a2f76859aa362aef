package doh

import (
	"strconv"
	"strings"
)

// accepts reports whether an Accept header value admits mediaType
// ("type/subtype", lower case). An absent header admits everything. The most
// specific matching range decides (RFC 9110 §12.5.1): "application/dns-message;q=0"
// refuses it even next to "*/*".
func accepts(header, mediaType string) bool {
	if header == "" || header == "*/*" || header == mediaType { // what DoH clients send
		return true
	}
	typ, _, _ := strings.Cut(mediaType, "/")
	best, bestQ := 0, 0.0
	for rng := range strings.SplitSeq(header, ",") {
		rng, params, _ := strings.Cut(rng, ";")
		rng = strings.ToLower(strings.TrimSpace(rng))
		var spec int
		switch {
		case rng == mediaType:
			spec = 3
		case rng == typ+"/*":
			spec = 2
		case rng == "*/*":
			spec = 1
		default:
			continue
		}
		if spec > best {
			best, bestQ = spec, quality(params)
		}
	}
	return best > 0 && bestQ > 0
}

// quality returns the q parameter of a media range's parameters (default 1;
// malformed values count as 0).
func quality(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || q < 0 {
			return 0
		}
		return q
	}
	return 1
}
