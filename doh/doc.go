// Package doh serves DNS over HTTPS (RFC 8484) over HTTP/1.1, HTTP/2 and
// HTTP/3 with one http.Handler, plus a JSON API in the shape Google's and
// Cloudflare's public resolvers use.
//
// # Endpoints
//
//	GET  /dns-query?dns=<base64url>   RFC 8484 wire format
//	POST /dns-query                   body application/dns-message
//	GET  /resolve?name=&type=         JSON (application/dns-json)
//	GET  /dns-query?name=&type=       JSON, when there is no dns= parameter
//
// Every profile path answers the same requests: "/ads" and "/ads/dns-query"
// take wire-format queries, "/ads/resolve" JSON. Any other path is 404.
//
// # Profile selection
//
// A request is served by the first profile that matches, in this order:
//
//  1. the request path, unless it is the generic /dns-query or /resolve;
//  2. the TLS server name (SNI), or the HTTP Host header when there is no SNI
//     (the cleartext listener behind a proxy);
//  3. the local address the connection arrived on;
//  4. the default profile.
//
// # Client addresses
//
// The client address handed to the resolver is the socket peer, replaced by
// the PROXY v2 source when ProxyProtocol is on, then by X-Forwarded-For or
// Forwarded, each only when the peer making the claim is in TrustedProxies.
// Client addresses are never logged.
package doh
