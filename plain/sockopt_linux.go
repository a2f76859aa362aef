package plain

import "golang.org/x/sys/unix"

// The socket options that set a buffer past net.core.rmem_max and wmem_max
// (CAP_NET_ADMIN).
const rcvBufForce, sndBufForce = unix.SO_RCVBUFFORCE, unix.SO_SNDBUFFORCE
