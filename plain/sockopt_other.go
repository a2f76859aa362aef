//go:build !linux

package plain

// Elsewhere no option sets a buffer past the kernel's cap: setBuffer's
// first try fails and the capped option is used.
const rcvBufForce, sndBufForce = -1, -1
