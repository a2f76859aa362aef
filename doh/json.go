package doh

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/dnsward/dnsward/resolver"
	"github.com/miekg/dns"
)

// jsonAnswer is the JSON shape of Google's and Cloudflare's DNS APIs.
type jsonAnswer struct {
	Status    int            `json:"Status"`
	TC        bool           `json:"TC"`
	RD        bool           `json:"RD"`
	RA        bool           `json:"RA"`
	AD        bool           `json:"AD"`
	CD        bool           `json:"CD"`
	Question  []jsonQuestion `json:"Question"`
	Answer    []jsonRR       `json:"Answer,omitempty"`
	Authority []jsonRR       `json:"Authority,omitempty"`
	Comment   string         `json:"Comment,omitempty"`
}

type jsonQuestion struct {
	Name string `json:"name"`
	Type uint16 `json:"type"`
}

type jsonRR struct {
	Name string `json:"name"`
	Type uint16 `json:"type"`
	TTL  uint32 `json:"TTL"`
	Data string `json:"data"`
}

// serveJSON answers GET ?name=&type=[&cd=1][&do=1].
func (h *Handler) serveJSON(w http.ResponseWriter, r *http.Request, req *resolver.Request) int {
	if r.Method != http.MethodGet {
		return h.fail(w, &httpError{http.StatusMethodNotAllowed, "method not allowed: use GET", "GET"})
	}
	ctype := mediaDNSJSON
	if accept := r.Header.Get("Accept"); !accepts(accept, mediaDNSJSON) {
		if !accepts(accept, mediaJSON) {
			return h.fail(w, errorf(http.StatusNotAcceptable, "this endpoint answers application/dns-json or application/json only"))
		}
		ctype = mediaJSON
	}
	q, herr := jsonQuery(r.URL.Query())
	if herr != nil {
		return h.fail(w, herr)
	}
	req.Msg = q
	resp, herr := h.resolve(r.Context(), req)
	if herr != nil {
		return h.fail(w, herr)
	}
	body, err := json.Marshal(toJSON(resp))
	if err != nil {
		return h.fail(w, errorf(http.StatusInternalServerError, "answer could not be encoded"))
	}
	if h.replayer != nil { // the query log's cue: an answer went out, as JSON
		h.replayer.Sent(req, nil, nil)
	}
	writeAnswer(w, ctype, answerMaxAge(resp), body)
	return http.StatusOK
}

// jsonQuery builds the DNS query a JSON API request asks for. It always
// carries an OPT record so that Extended DNS Errors come back as a Comment.
func jsonQuery(v map[string][]string) (*dns.Msg, *httpError) {
	get := func(k string) string {
		if vs := v[k]; len(vs) > 0 {
			return vs[0]
		}
		return ""
	}
	name := get("name")
	if name == "" {
		return nil, errorf(http.StatusBadRequest, "missing name parameter")
	}
	if _, ok := dns.IsDomainName(name); !ok || len(dns.Fqdn(name)) > 255 {
		return nil, errorf(http.StatusBadRequest, "name is not a valid domain name")
	}
	qtype := dns.TypeA
	if t := get("type"); t != "" {
		var ok bool
		if qtype, ok = parseType(t); !ok {
			return nil, errorf(http.StatusBadRequest, "unknown type")
		}
	}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	q.CheckingDisabled = isTrue(get("cd"))
	q.SetEdns0(resolver.AdvertisedUDPSize, isTrue(get("do")))
	return q, nil
}

// parseType accepts a mnemonic ("AAAA", "aaaa") or a number ("28").
func parseType(s string) (uint16, bool) {
	if t, ok := dns.StringToType[strings.ToUpper(s)]; ok {
		return t, true
	}
	n, err := strconv.ParseUint(s, 10, 16)
	return uint16(n), err == nil && n > 0
}

func isTrue(s string) bool { return s == "1" || strings.EqualFold(s, "true") }

// toJSON converts an answer to the JSON shape.
func toJSON(m *dns.Msg) jsonAnswer {
	a := jsonAnswer{
		Status: m.Rcode, TC: m.Truncated, RD: m.RecursionDesired, RA: m.RecursionAvailable,
		AD: m.AuthenticatedData, CD: m.CheckingDisabled,
		Answer: jsonRRs(m.Answer), Authority: jsonRRs(m.Ns),
	}
	for _, q := range m.Question {
		a.Question = append(a.Question, jsonQuestion{Name: q.Name, Type: q.Qtype})
	}
	if ede, ok := resolver.EDE(m); ok {
		a.Comment = "EDE(" + strconv.Itoa(int(ede.InfoCode)) + "): " + dns.ExtendedErrorCodeToString[ede.InfoCode]
		if ede.ExtraText != "" {
			a.Comment += " (" + ede.ExtraText + ")"
		}
	}
	return a
}

func jsonRRs(rrs []dns.RR) []jsonRR {
	var out []jsonRR
	for _, rr := range rrs {
		h := rr.Header()
		if h.Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, jsonRR{
			Name: h.Name, Type: h.Rrtype, TTL: h.Ttl,
			Data: strings.TrimPrefix(rr.String(), h.String()),
		})
	}
	return out
}
