package filter

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// mispTag is a MISP tag; only its name matters here.
type mispTag struct {
	Name string `json:"name"`
}

// mispInt is a MISP number: written as a JSON string ("1796673593") by
// MISP and PyMISP, as a number by some tools.
type mispInt int64

// UnmarshalJSON accepts a number or a string holding one.
func (n *mispInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("not a number: %s", b)
	}
	*n = mispInt(v)
	return nil
}

// mispAttr is one MISP attribute as a feed event or a restSearch answer
// writes it.
type mispAttr struct {
	UUID      string    `json:"uuid"`
	Type      string    `json:"type"`
	Value     string    `json:"value"`
	ToIDS     bool      `json:"to_ids"`
	Deleted   bool      `json:"deleted"`
	Timestamp mispInt   `json:"timestamp"`
	Tag       []mispTag `json:"Tag"`
	Event     *struct { // restSearch only: the attribute's event
		UUID      string `json:"uuid"`
		Published bool   `json:"published"`
	} `json:"Event"`
}

// mispEvent is a feed's <event-uuid>.json.
type mispEvent struct {
	Event struct {
		UUID      string     `json:"uuid"`
		Published bool       `json:"published"`
		Tag       []mispTag  `json:"Tag"`
		Attribute []mispAttr `json:"Attribute"`
		Object    []struct {
			Name      string     `json:"name"`
			Deleted   bool       `json:"deleted"`
			Attribute []mispAttr `json:"Attribute"`
		} `json:"Object"`
	} `json:"Event"`
}

// mispManifestEntry is one event of a feed's manifest.json.
type mispManifestEntry struct {
	Timestamp mispInt   `json:"timestamp"`
	Tag       []mispTag `json:"Tag"`
}

// indicator is one blocking name taken from a MISP attribute.
type indicator struct {
	Attr  string `json:"a"`            // attribute UUID
	Event string `json:"e"`            // event UUID
	Type  string `json:"t"`            // MISP attribute type
	Name  string `json:"n"`            // normalized name
	Value string `json:"v,omitempty"`  // the attribute value when it is not Name (url, domain|ip)
	IP    string `json:"ip,omitempty"` // the address of a domain|ip
	TS    int64  `json:"ts"`           // attribute timestamp, Unix seconds
}

// appendJSON appends in as one JSON line, as encoding/json writes it but
// without reflection: saving a million indicators is a loop of these.
func (in indicator) appendJSON(b []byte) []byte {
	b = append(b, `{"a":`...)
	b = appendJSONString(b, in.Attr)
	b = append(b, `,"e":`...)
	b = appendJSONString(b, in.Event)
	b = append(b, `,"t":`...)
	b = appendJSONString(b, in.Type)
	b = append(b, `,"n":`...)
	b = appendJSONString(b, in.Name)
	if in.Value != "" {
		b = append(b, `,"v":`...)
		b = appendJSONString(b, in.Value)
	}
	if in.IP != "" {
		b = append(b, `,"ip":`...)
		b = appendJSONString(b, in.IP)
	}
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, in.TS, 10)
	return append(b, "}\n"...)
}

// appendJSONString appends s as a JSON string: as is when it is printable
// ASCII without quotes or backslashes (names always are), else escaped by
// encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// exact reports whether the indicator blocks only its own name: a
// hostname or a URL's host. A domain blocks its subdomains too.
func (in indicator) exact() bool { return in.Type == "hostname" || in.Type == "url" }

// mispTypes are the attribute types that name a host.
var mispTypes = []string{"domain", "hostname", "domain|ip", "url"}

var (
	errNotDomainType = errors.New("attribute type names no host")
	errBadUUID       = errors.New("bad UUID")
)

// toIndicator turns an attribute of a domain type into an indicator; it
// does not look at to_ids, deleted or publication.
func toIndicator(a *mispAttr, event string) (indicator, error) {
	in := indicator{Attr: strings.ToLower(a.UUID), Event: strings.ToLower(event), Type: a.Type, TS: int64(a.Timestamp)}
	if !validUUID(in.Attr) || !validUUID(in.Event) {
		return in, errBadUUID
	}
	host := a.Value
	switch a.Type {
	case "domain", "hostname":
	case "domain|ip":
		var ip string
		host, ip, _ = strings.Cut(a.Value, "|")
		if addr, err := netip.ParseAddr(ip); err == nil {
			in.IP = addr.String()
		}
		in.Value = a.Value
	case "url":
		raw := a.Value
		if !strings.Contains(raw, "://") {
			raw = "http://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil {
			return in, fmt.Errorf("url: %w", err)
		}
		host, in.Value = u.Hostname(), a.Value
	default:
		return in, errNotDomainType
	}
	name, wild, err := NormalizeName(host)
	if err != nil {
		return in, err
	}
	if wild {
		return in, errors.New("wildcard in a MISP value")
	}
	in.Name = name
	return in, nil
}

// validUUID accepts the 36-character hyphenated form.
func validUUID(s string) bool {
	_, ok := uuidBytes(s)
	return ok
}

// uuidBytes parses a hyphenated UUID.
func uuidBytes(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	for i, n := 0, 0; n < len(u); n, i = n+1, i+2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++ // the groups have even lengths: no byte straddles a hyphen
		}
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return u, false
		}
		u[n] = hi<<4 | lo
	}
	return u, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// formatUUID is the inverse of uuidBytes.
func formatUUID(u [16]byte) string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// hasTag reports whether tags holds one of want (case-insensitive); an
// empty want accepts everything.
func hasTag(want []string, tags ...[]mispTag) bool {
	if len(want) == 0 {
		return true
	}
	for _, ts := range tags {
		for _, t := range ts {
			for _, w := range want {
				if strings.EqualFold(t.Name, w) {
					return true
				}
			}
		}
	}
	return false
}

// decodeManifest reads a feed's manifest.json: event UUID → entry.
func decodeManifest(r io.Reader) (map[string]mispManifestEntry, error) {
	var m map[string]mispManifestEntry
	if err := json.NewDecoder(r).Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	for id := range m {
		if !validUUID(id) {
			return nil, fmt.Errorf("manifest.json: event %q: %w", id, errBadUUID)
		}
	}
	return m, nil
}

// decodeFeedEvent reads one feed event and calls emit for each blocking
// indicator: a published event's domain-type attributes (standalone or in
// objects) with to_ids set, not deleted, carrying one of tags (on the
// attribute or the event). It returns how many domain-type attributes it
// could not use (a bad value or UUID).
func decodeFeedEvent(r io.Reader, tags []string, emit func(indicator)) (skipped int, err error) {
	var ev mispEvent
	if err := json.NewDecoder(r).Decode(&ev); err != nil {
		return 0, err
	}
	e := &ev.Event
	if !validUUID(strings.ToLower(e.UUID)) {
		return 0, fmt.Errorf("event uuid %q: %w", e.UUID, errBadUUID)
	}
	if !e.Published {
		return 0, nil
	}
	use := func(a *mispAttr) {
		if !a.ToIDS || a.Deleted || !hasTag(tags, e.Tag, a.Tag) {
			return
		}
		in, err := toIndicator(a, e.UUID)
		switch {
		case errors.Is(err, errNotDomainType):
		case err != nil:
			skipped++
		default:
			emit(in)
		}
	}
	for i := range e.Attribute {
		use(&e.Attribute[i])
	}
	for _, o := range e.Object {
		if o.Deleted {
			continue
		}
		for i := range o.Attribute {
			use(&o.Attribute[i])
		}
	}
	return skipped, nil
}

// restChange is one attribute of a restSearch answer: an indicator to keep
// (block) or, when drop is set, to remove (deleted, to_ids unset, event
// unpublished).
type restChange struct {
	in   indicator
	drop bool
}

// decodeRestSearch streams a POST /attributes/restSearch answer,
// {"response": {"Attribute": [...]}} (or {"response": []} when nothing
// matched), calling emit for each domain-type attribute. It returns the
// number of domain-type attributes it could not use.
func decodeRestSearch(r io.Reader, emit func(restChange)) (skipped int, err error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return 0, err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return skipped, err
		}
		if key != "response" {
			if err := skipValue(dec); err != nil {
				return skipped, err
			}
			continue
		}
		t, err := dec.Token()
		if err != nil {
			return skipped, err
		}
		switch t {
		case json.Delim('['): // empty answer
			for dec.More() {
				if err := skipValue(dec); err != nil {
					return skipped, err
				}
			}
			if _, err := dec.Token(); err != nil {
				return skipped, err
			}
			continue
		case json.Delim('{'):
		default:
			return skipped, fmt.Errorf("response: expected an object, got %v", t)
		}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return skipped, err
			}
			if k != "Attribute" {
				if err := skipValue(dec); err != nil {
					return skipped, err
				}
				continue
			}
			if err := expectDelim(dec, '['); err != nil {
				return skipped, fmt.Errorf("response.Attribute: %w", err)
			}
			for dec.More() {
				var a mispAttr
				if err := dec.Decode(&a); err != nil {
					return skipped, fmt.Errorf("response.Attribute: %w", err)
				}
				if a.Event == nil {
					return skipped, errors.New("response.Attribute: an attribute without its Event")
				}
				in, err := toIndicator(&a, a.Event.UUID)
				switch {
				case errors.Is(err, errNotDomainType):
				case err != nil:
					skipped++
				default:
					emit(restChange{in: in, drop: !a.ToIDS || a.Deleted || !a.Event.Published})
				}
			}
			if _, err := dec.Token(); err != nil {
				return skipped, err
			}
		}
		if _, err := dec.Token(); err != nil {
			return skipped, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return skipped, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return skipped, errors.New("data after the answer")
	}
	return skipped, nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if t != d {
		return fmt.Errorf("expected %v, got %v", d, t)
	}
	return nil
}

func skipValue(dec *json.Decoder) error {
	var v json.RawMessage
	return dec.Decode(&v)
}
