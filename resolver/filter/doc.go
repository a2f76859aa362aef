// Package filter compiles block lists (hosts, plain domains, wildcards,
// AdBlock DNS rules, RPZ zones) into compact immutable domain sets, keeps them
// fresh (local files polled for changes, remote lists refreshed with ETag /
// If-Modified-Since and cached on disk) and answers resolver.Policy checks for
// each profile.
//
// Memory layout: a Set stores every name with its labels reversed
// ("ads.example.com" → "com.example.ads."), sorted, with entries covered by a
// parent removed, front-coded inside 64 KiB pages. Because a parent entry
// makes its children redundant, the entries form a prefix-free set, so the
// greatest entry ≤ the query decides a match for the name and all of its
// parents at once, exactly (hashes only find where to look, keys decide).
// That entry lies in the query's partition, its first two labels: a hash
// table of partitions points at each one's first entry, stored whole, and
// partitions longer than 16 entries get a small search index of their own.
package filter
