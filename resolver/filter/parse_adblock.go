package filter

import (
	"fmt"
	"strings"
)

// adblockParser reads AdBlock-style DNS rules as AdGuard Home understands
// them: ||example.com^ blocks the name and its subtree, @@ makes an
// exception, $important wins over exceptions. Cosmetic, path, regex and
// other modifier rules mean nothing to DNS and are skipped. Plain hosts
// lines are accepted too.
type adblockParser struct{}

func (adblockParser) end() error { return nil }

func (adblockParser) parseLine(line string, emit func(Entry)) error {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '!' || line[0] == '[' {
		return nil
	}
	for _, cosmetic := range []string{"##", "#@#", "#?#", "#$#", "#%#"} {
		if strings.Contains(line, cosmetic) {
			return errNotDNS
		}
	}
	if line[0] == '#' {
		return nil
	}
	act := ActBlock
	rule, exception := strings.CutPrefix(line, "@@")
	if exception {
		act = ActAllow
	}
	if i := strings.LastIndexByte(rule, '$'); i >= 0 {
		for _, mod := range strings.Split(rule[i+1:], ",") {
			if mod != "important" {
				return fmt.Errorf("modifier %q: %w", mod, errNotDNS)
			}
			if act == ActBlock {
				act = ActImportant
			}
		}
		rule = rule[:i]
	}
	domain, anchored := strings.CutPrefix(rule, "||")
	if !anchored {
		if exception || act == ActImportant || strings.ContainsAny(rule, "|^/*") {
			return errNotDNS
		}
		return hostsParser{}.parseLine(rule, emit)
	}
	domain = strings.TrimSuffix(strings.TrimSuffix(domain, "|"), "^")
	if strings.ContainsAny(strings.TrimPrefix(domain, "*."), "^|/*?:=&") {
		return errNotDNS
	}
	name, wild, err := NormalizeName(domain)
	if err != nil {
		return fmt.Errorf("%q: %w", domain, err)
	}
	emit(Entry{Name: name, Scope: wildScope(wild, ScopeSubtree), Action: act})
	return nil
}
