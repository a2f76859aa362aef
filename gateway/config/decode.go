// Package config reads dnsward's YAML configuration. Every error names the
// file, the line and the key, so that an operator can fix it without guessing.
package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is one configuration problem at a place in a file.
type Error struct {
	File string
	Line int
	Key  string // dotted path, e.g. "cache.size"
	Msg  string
}

// Error formats the problem as "file:line: key: message".
func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Key != "":
		return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Key, e.Msg)
	case e.Key != "":
		return fmt.Sprintf("%s: %s: %s", e.File, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors is every problem found in one file, in document order.
type Errors []*Error

// Error lists every problem, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Duration is a time.Duration written as "30s", "24h" or "1h30m".
type Duration time.Duration

// decoder walks a YAML node tree into Go values by reflection, recording the
// line of every key so that later validation can point at it too.
type decoder struct {
	file  string
	lines map[string]int
	errs  Errors
}

func (d *decoder) fail(n *yaml.Node, key, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

var durationType = reflect.TypeOf(Duration(0))

// boolShorthand is a section that also takes a bare true or false, short
// for its enabled key (`onboarding: false`).
type boolShorthand interface{ setBool(bool) }

func (d *decoder) decode(n *yaml.Node, key string, v reflect.Value) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if key != "" {
		d.lines[key] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		v.Set(reflect.Zero(v.Type()))
		return
	}
	if v.Type() == durationType {
		d.duration(n, key, v)
		return
	}
	if bs, ok := v.Addr().Interface().(boolShorthand); ok && n.Kind == yaml.ScalarNode {
		b, err := strconv.ParseBool(n.Value)
		if err != nil {
			d.fail(n, key, "expected true, false or a mapping of keys, got %q", n.Value)
		} else {
			bs.setBool(b)
		}
		return
	}
	if tu, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok && v.Kind() != reflect.Pointer {
		if n.Kind != yaml.ScalarNode {
			d.fail(n, keyOr(key), "expected a single value, got %s", describe(n))
		} else if err := tu.UnmarshalText([]byte(n.Value)); err != nil {
			d.fail(n, key, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.decode(n, key, p.Elem())
		v.Set(p)
	case reflect.Struct:
		d.structure(n, key, v)
	case reflect.Map:
		d.mapping(n, key, v)
	case reflect.Slice:
		d.sequence(n, key, v)
	default:
		d.scalar(n, key, v)
	}
}

func (d *decoder) structure(n *yaml.Node, key string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, keyOr(key), "expected a mapping of keys, got %s", describe(n))
		return
	}
	fields := map[string][]int{}
	yamlFields(v.Type(), nil, fields)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		sub := join(key, k.Value)
		idx, ok := fields[k.Value]
		if !ok {
			d.fail(k, sub, "unknown key (known keys: %s)", knownKeys(fields))
			continue
		}
		d.decode(val, sub, v.FieldByIndex(idx))
	}
}

// yamlFields maps each key of struct type t to its field's index path; the
// keys of a field tagged ",inline" (a struct shared by several sections)
// are t's own.
func yamlFields(t reflect.Type, at []int, fields map[string][]int) {
	for i := 0; i < t.NumField(); i++ {
		name, opt, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		idx := append(slices.Clone(at), i)
		switch {
		case opt == "inline":
			yamlFields(t.Field(i).Type, idx, fields)
		case name != "" && name != "-":
			fields[name] = idx
		}
	}
}

func (d *decoder) mapping(n *yaml.Node, key string, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, keyOr(key), "expected a mapping, got %s", describe(n))
		return
	}
	m := reflect.MakeMap(v.Type())
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		sub := join(key, k.Value)
		if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			d.fail(k, sub, "defined twice")
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, sub, elem)
		m.SetMapIndex(reflect.ValueOf(k.Value), elem)
	}
	v.Set(m)
}

func (d *decoder) sequence(n *yaml.Node, key string, v reflect.Value) {
	items := n.Content
	if n.Kind == yaml.ScalarNode { // a single value where a list is expected
		items = []*yaml.Node{n}
	} else if n.Kind != yaml.SequenceNode {
		d.fail(n, keyOr(key), "expected a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(items), len(items))
	for i, item := range items {
		d.decode(item, fmt.Sprintf("%s[%d]", key, i), s.Index(i))
	}
	v.Set(s)
}

func (d *decoder) scalar(n *yaml.Node, key string, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, keyOr(key), "expected a single value, got %s", describe(n))
		return
	}
	s := n.Value
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			d.fail(n, key, "expected true or false, got %q", s)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
		if err != nil || v.OverflowInt(i) {
			d.fail(n, key, "expected an integer, got %q", s)
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u, err := strconv.ParseUint(strings.ReplaceAll(s, "_", ""), 10, 64)
		if err != nil || v.OverflowUint(u) {
			d.fail(n, key, "expected a non-negative integer up to %d, got %q", maxUint(v), s)
			return
		}
		v.SetUint(u)
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			d.fail(n, key, "expected a number, got %q", s)
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("config: unsupported field kind %s at %s", v.Kind(), key))
	}
}

func (d *decoder) duration(n *yaml.Node, key string, v reflect.Value) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, key, "expected a duration such as 30s or 24h, got %s", describe(n))
		return
	}
	t, err := parseDuration(n.Value)
	if err != nil || t < 0 {
		d.fail(n, key, "expected a duration such as 30s or 24h, got %q", n.Value)
		return
	}
	v.SetInt(int64(t))
}

// parseDuration is time.ParseDuration that also takes whole days ("90d").
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, err
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

func maxUint(v reflect.Value) uint64 {
	return math.MaxUint64 >> (64 - v.Type().Bits())
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

func knownKeys(fields map[string][]int) string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func keyOr(key string) string {
	if key == "" {
		return "(top level)"
	}
	return key
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String writes d as a configuration would, without zero minutes and
// seconds: 24h, 1h30m, 5s.
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") { // 1h30m0s, 24h0m0s
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") { // 24h0m
		s = s[:len(s)-2]
	}
	return s
}
