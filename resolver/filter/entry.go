package filter

import "github.com/miekg/dns"

// Action is what a list entry asks for.
type Action uint8

// The list entry actions, in the order a category ranks them: an important
// block beats an exception, an exception beats every other block.
const (
	ActBlock     Action = iota // block, answered the profile's way
	ActImportant               // AdBlock $important: block even over an exception
	ActAllow                   // AdBlock @@ exception or RPZ rpz-passthru.
	ActNXDomain                // RPZ CNAME . : answer NXDOMAIN
	ActNoData                  // RPZ CNAME *. : answer NOERROR without records
	ActLocalData               // RPZ local data: answer with Entry.RR
)

// Scope is which names an entry matches.
type Scope uint8

// The entry scopes.
const (
	ScopeSubtree Scope = iota // the name and every name below it (domain lists, hosts, AdBlock)
	ScopeBelow                // only the names below it ("*.example.com")
	ScopeExact                // the name only (an RPZ owner without "*.")
)

// wildScope is ScopeBelow for a wildcard name, else plain: the scope the
// format gives a name without "*.".
func wildScope(wildcard bool, plain Scope) Scope {
	if wildcard {
		return ScopeBelow
	}
	return plain
}

// Entry is one parsed list entry.
type Entry struct {
	Name   string // normalized (see NormalizeName); from Parse, valid during the emit call only
	Scope  Scope
	Action Action
	RR     dns.RR // for ActLocalData; its owner is Name (or *.Name for ScopeBelow)
}
