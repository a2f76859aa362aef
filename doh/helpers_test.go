package doh

import (
	"bytes"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"testing"

	"github.com/miekg/dns"
)

// query builds a packed query with an OPT record; pad > 0 adds an EDNS
// padding option of that many bytes.
func query(t testing.TB, name string, qtype uint16, id uint16, pad int) []byte {
	t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.Id = id
	q.SetEdns0(1232, false)
	if pad > 0 {
		opt := q.IsEdns0()
		opt.Option = append(opt.Option, &dns.EDNS0_PADDING{Padding: make([]byte, pad)})
	}
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dohURL is the RFC 8484 URL for host and path; a non-nil wire makes it a GET URL.
func dohURL(scheme, host, path string, wire []byte) string {
	u := scheme + "://" + host + path
	if wire != nil {
		u += "?dns=" + base64.RawURLEncoding.EncodeToString(wire)
	}
	return u
}

// exchange sends a DoH request and returns the response and its body.
func exchange(t testing.TB, c *http.Client, method, url string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// getOrPost sends wire as a GET or a POST.
func getOrPost(t testing.TB, c *http.Client, method, host, path string, wire []byte) (*http.Response, []byte) {
	t.Helper()
	if method == http.MethodGet {
		return exchange(t, c, method, dohURL("https", host, path, wire), nil, nil)
	}
	return exchange(t, c, method, dohURL("https", host, path, nil), bytes.NewReader(wire),
		map[string]string{"Content-Type": "application/dns-message"})
}

// unpack parses a DoH answer body.
func unpack(t testing.TB, b []byte) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("answer does not parse: %v (%q)", err, b)
	}
	return m
}

// firstA returns the first A record's address, or "" when there is none.
func firstA(m *dns.Msg) string {
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String()
		}
	}
	return ""
}

// hostPort joins a URL host with a bound port.
func hostPort(host string, ap netip.AddrPort) string {
	return net.JoinHostPort(host, strconv.Itoa(int(ap.Port())))
}
