package httpmsg

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// AppendCacheControl appends the Cache-Control value for maxAge.
func AppendCacheControl(b []byte, maxAge int64) []byte {
	if maxAge < 0 {
		return append(b, "no-store"...)
	}
	return strconv.AppendInt(append(b, "max-age="...), maxAge, 10)
}

// LowerKey is the HTTP/2 and HTTP/3 lower-case form of a header name the handler set,
// without allocating for the names it sets.
func LowerKey(k string) string {
	switch k {
	case "Access-Control-Allow-Origin":
		return "access-control-allow-origin"
	case "Allow":
		return "allow"
	case "Alt-Svc":
		return "alt-svc"
	case "Cache-Control":
		return "cache-control"
	case "Content-Length":
		return "content-length"
	case "Content-Type":
		return "content-type"
	case "Date":
		return "date"
	case "Vary":
		return "vary"
	case "X-Content-Type-Options":
		return "x-content-type-options"
	}
	return strings.ToLower(k)
}

// dateCache holds the Date header of the current second.
var dateCache atomic.Pointer[cachedDate]

type cachedDate struct {
	sec int64
	val string
}

// HTTPDate is the Date header value for now.
func HTTPDate(now time.Time) string {
	if d := dateCache.Load(); d != nil && d.sec == now.Unix() {
		return d.val
	}
	d := &cachedDate{now.Unix(), now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.val
}

// commonKeys maps the header names DoH clients send to their canonical form.
var commonKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Cache-Control", "Content-Length",
		"Content-Type", "Cookie", "Forwarded", "Host", "Origin", "Pragma", "Referer", "Te", "User-Agent",
		"X-Forwarded-For", "X-Forwarded-Proto", "X-Real-Ip"} {
		m[strings.ToLower(k)] = k
	}
	return m
}()

// CanonicalKey is http.CanonicalHeaderKey without allocating for the
// names DoH clients commonly send .
func CanonicalKey(name string) string {
	if k, ok := commonKeys[name]; ok {
		return k
	}
	return textproto.CanonicalMIMEHeaderKey(name)
}
