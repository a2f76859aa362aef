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

// Entry is one parsed list entry.
type Entry struct {
	Name     string // normalized (see NormalizeName)
	Wildcard bool   // the subtree below Name only
	Action   Action
	RR       dns.RR // for ActLocalData; its owner is Name (or *.Name)
}
