//go:build ignore

// dnsward XDP filter: per-client token buckets for UDP DNS queries.
//
// For UDP packets to one of the configured ports (IPv4 and IPv6) it drops what
// cannot be a DNS query, applies the allow and deny prefix lists, and charges
// one token per query to the bucket of the client's prefix. Excess queries are
// dropped, or every slip-th one is answered with TC=1 straight from XDP so a
// real client retries over TCP. Everything else passes untouched.
//
// Needs Linux 5.18+ (bounded loops, BPF atomics, bpf_xdp_get_buff_len).

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define MAX_PORTS 8
#define NANO 1000000000ULL
#define DNS_HDR_LEN 12
#define MAX_QNAME 255
#define MAX_LABELS 128
#define MAX_EXT_HDRS 4
/* A TC answer is at most 8 (UDP) + 12 (DNS) + 255 (name) + 4 (type, class). */
#define MAX_REPLY_WORDS ((8 + DNS_HDR_LEN + MAX_QNAME + 4 + 1) / 2)

char __license[] SEC("license") = "Dual MIT/GPL";

/* config is written by the Go loader; a zero entry matches no port. */
struct config {
	__u64 rate;    /* tokens per second, i.e. nanotokens per nanosecond */
	__u64 cap;     /* bucket size: burst * NANO nanotokens */
	__u64 fill_ns; /* time to fill an empty bucket */
	__u32 slip;    /* answer every slip-th excess query with TC=1; 0: never */
	__u8 v4_prefix;
	__u8 v6_prefix;
	__u8 nports;
	__u8 pad;
	__u16 ports[MAX_PORTS]; /* host byte order */
};

/* bucket is one client prefix's token bucket. */
struct bucket {
	__u64 last;   /* bpf_ktime_get_ns of the last refill */
	__u64 tokens; /* nanotokens left */
	__u32 excess; /* queries over the limit since the entry was created */
	__u32 pad;
};

/* addr is a client address: IPv4 as ::ffff:a.b.c.d, masked to its prefix. */
struct addr {
	__u32 w[4];
};

/* lpm_key is an allow/deny trie key in the same IPv4-mapped space. */
struct lpm_key {
	__u32 prefixlen;
	struct addr addr;
};

/* stat indexes the per-CPU counters; keep in step with stats.go. */
enum stat {
	STAT_PASS_LIMIT,
	STAT_PASS_ALLOW,
	STAT_PASS_OTHER,
	STAT_DROP_LIMIT,
	STAT_DROP_DENY,
	STAT_DROP_MALFORMED,
	STAT_DROP_FRAGMENT,
	STAT_TC_SLIP,
	STAT_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} config_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 131072); /* resized by the loader */
	__type(key, struct addr);
	__type(value, struct bucket);
} buckets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32); /* the entry's prefixlen */
} allow_list SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
} deny_list SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

struct ipv6_ext {
	__u8 nexthdr;
	__u8 len;
};

struct ipv6_frag {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;
	__be32 id;
};

/* pkt is what parsing learned about a UDP packet. */
struct pkt {
	struct udphdr *udp;
	struct iphdr *ip4;    /* set when !is6 */
	struct ipv6hdr *ip6;  /* set when is6 */
	int is6;              /* a flag, not a pointer test: the verifier can't
	                       * rule out a NULL packet pointer */
	struct addr src;      /* client address, IPv4-mapped */
	__u32 l3_off;         /* offset of the IP header in the frame */
	int frag;             /* first fragment of a fragmented datagram */
	int simple;           /* no IPv4 options or IPv6 extension headers */
};

enum parse {
	PARSE_UDP,
	PARSE_OTHER,
	PARSE_MALFORMED,
};

static __always_inline int count(__u32 reason, int action)
{
	__u64 *c = bpf_map_lookup_elem(&stats, &reason);
	if (c)
		*c += 1;
	return action;
}

static __always_inline int parse_ipv4(void *l3, void *data_end, struct pkt *p)
{
	struct iphdr *ip = l3;
	if ((void *)(ip + 1) > data_end || ip->ihl < 5)
		return PARSE_MALFORMED;
	if (ip->protocol != IPPROTO_UDP)
		return PARSE_OTHER;
	/* A later fragment carries no UDP header: its port is unknown. */
	if (ip->frag_off & bpf_htons(0x1fff))
		return PARSE_OTHER;
	p->frag = (ip->frag_off & bpf_htons(0x2000)) != 0;
	p->simple = ip->ihl == 5;
	p->ip4 = ip;
	p->udp = l3 + ip->ihl * 4;
	p->src.w[0] = 0;
	p->src.w[1] = 0;
	p->src.w[2] = bpf_htonl(0xffff);
	p->src.w[3] = ip->saddr;
	return PARSE_UDP;
}

static __always_inline int parse_ipv6(void *l3, void *data_end, struct pkt *p)
{
	struct ipv6hdr *ip6 = l3;
	if ((void *)(ip6 + 1) > data_end)
		return PARSE_MALFORMED;
	__u8 nh = ip6->nexthdr;
	void *cur = ip6 + 1;
	p->simple = nh == IPPROTO_UDP;
#pragma unroll
	for (int i = 0; i < MAX_EXT_HDRS; i++) {
		if (nh == IPPROTO_UDP)
			break;
		if (nh == IPPROTO_FRAGMENT) {
			struct ipv6_frag *fh = cur;
			if ((void *)(fh + 1) > data_end)
				return PARSE_MALFORMED;
			if (fh->frag_off & bpf_htons(0xfff8))
				return PARSE_OTHER;
			p->frag = 1;
			nh = fh->nexthdr;
			cur = fh + 1;
			continue;
		}
		if (nh != IPPROTO_HOPOPTS && nh != IPPROTO_ROUTING && nh != IPPROTO_DSTOPTS)
			return PARSE_OTHER;
		struct ipv6_ext *eh = cur;
		if ((void *)(eh + 1) > data_end)
			return PARSE_MALFORMED;
		nh = eh->nexthdr;
		cur += (eh->len + 1) * 8;
	}
	if (nh != IPPROTO_UDP)
		return PARSE_OTHER;
	p->ip6 = ip6;
	p->is6 = 1;
	p->udp = cur;
	__builtin_memcpy(&p->src, &ip6->saddr, sizeof(p->src));
	return PARSE_UDP;
}

static __always_inline int is_dns_port(struct config *cfg, __u16 port)
{
#pragma unroll
	for (int i = 0; i < MAX_PORTS; i++) {
		if (i >= cfg->nports)
			return 0;
		if (cfg->ports[i] == port)
			return 1;
	}
	return 0;
}

/* mask_word keeps the first bits (counted from word's first bit) of w. */
static __always_inline __u32 mask_word(__u32 w, int bits)
{
	if (bits >= 32)
		return w;
	if (bits <= 0)
		return 0;
	return w & bpf_htonl(~0U << (32 - bits));
}

static __always_inline void mask_prefix(struct addr *a, int bits)
{
#pragma unroll
	for (int i = 0; i < 4; i++)
		a->w[i] = mask_word(a->w[i], bits - 32 * i);
}

/* list_match returns the matching entry's prefix length plus one, or 0. */
static __always_inline __u32 list_match(void *trie, struct addr *src)
{
	struct lpm_key k = {.prefixlen = 128, .addr = *src};
	__u32 *len = bpf_map_lookup_elem(trie, &k);
	return len ? *len + 1 : 0;
}

/* question_len returns the length of the question (name, type, class) that
 * starts at q, or -1 when it is not a single uncompressed question. */
static __always_inline int question_len(void *q, void *data_end)
{
	__u32 off = 0;
	for (int i = 0; i < MAX_LABELS; i++) {
		if (off >= MAX_QNAME)
			return -1;
		__u8 *lp = q + off;
		if ((void *)(lp + 1) > data_end)
			return -1;
		__u8 l = *lp;
		off += 1;
		if (l == 0) {
			if (q + off + 4 > data_end)
				return -1;
			return off + 4;
		}
		if (l > 63)
			return -1;
		off += l;
	}
	return -1;
}

static __always_inline __u16 csum_fold(__u64 sum)
{
#pragma unroll
	for (int i = 0; i < 4; i++)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* csum_words adds the 16-bit words of the len bytes at start. */
static __always_inline __u64 csum_words(void *start, __u32 len, void *data_end)
{
	__u64 sum = 0;
	for (int i = 0; i < MAX_REPLY_WORDS; i++) {
		__u32 off = i * 2;
		if (off >= len)
			break;
		void *w = start + off;
		if (off + 1 == len) {
			__u16 last = 0;
			if (w + 1 > data_end)
				break;
			*(__u8 *)&last = *(__u8 *)w;
			sum += last;
			break;
		}
		if (w + 2 > data_end)
			break;
		sum += *(__u16 *)w;
	}
	return sum;
}

static __always_inline void swap_bytes(void *a, void *b, __u32 n)
{
	__u8 tmp[16];
	__builtin_memcpy(tmp, a, n);
	__builtin_memcpy(a, b, n);
	__builtin_memcpy(b, tmp, n);
}

/* slip turns the query into a TC=1 answer with just the header and question,
 * sent back out of the interface it came in on. */
static __always_inline int slip(struct xdp_md *ctx, struct ethhdr *eth, struct pkt *p)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct udphdr *udp = p->udp;
	__u8 *dns = (void *)(udp + 1);
	if (!p->simple || (void *)(dns + DNS_HDR_LEN) > data_end)
		return count(STAT_DROP_LIMIT, XDP_DROP);
	int qlen = question_len(dns + DNS_HDR_LEN, data_end);
	if (qlen < 0)
		return count(STAT_DROP_LIMIT, XDP_DROP);
	__u32 udp_len = sizeof(*udp) + DNS_HDR_LEN + qlen;

	swap_bytes(eth->h_source, eth->h_dest, ETH_ALEN);
	__u16 port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	dns[2] = (dns[2] & 0x79) | 0x82; /* QR, TC; keep opcode and RD; clear AA */
	dns[3] = 0x80;                    /* RA, RCODE NOERROR */
	__builtin_memset(dns + 6, 0, 6);  /* ANCOUNT, NSCOUNT, ARCOUNT */
	udp->len = bpf_htons(udp_len);
	udp->check = 0;

	__u64 sum = bpf_htons(IPPROTO_UDP) + bpf_htons(udp_len);
	if (!p->is6) {
		struct iphdr *ip = p->ip4;
		swap_bytes(&ip->saddr, &ip->daddr, 4);
		ip->tot_len = bpf_htons(sizeof(*ip) + udp_len);
		ip->ttl = 64;
		ip->check = 0;
		ip->check = csum_fold(csum_words(ip, sizeof(*ip), data_end));
		sum += csum_words(&ip->saddr, 8, data_end);
	} else {
		struct ipv6hdr *ip6 = p->ip6;
		swap_bytes(&ip6->saddr, &ip6->daddr, 16);
		ip6->payload_len = bpf_htons(udp_len);
		ip6->hop_limit = 64;
		sum += csum_words(&ip6->saddr, 32, data_end);
	}
	sum += csum_words(udp, udp_len, data_end);
	__u16 check = csum_fold(sum);
	udp->check = check ? check : 0xffff;

	/* Packet lengths as scalars: pointer subtraction needs CAP_PERFMON. */
	__u32 l4_off = p->l3_off + (p->is6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr));
	int delta = (int)(l4_off + udp_len) - (int)bpf_xdp_get_buff_len(ctx);
	if (delta < 0 && bpf_xdp_adjust_tail(ctx, delta))
		return count(STAT_DROP_LIMIT, XDP_DROP);
	return count(STAT_TC_SLIP, XDP_TX);
}

/* charge takes one token from the client's bucket and says what to do. */
static __always_inline int charge(struct xdp_md *ctx, struct ethhdr *eth, struct pkt *p,
				  struct config *cfg)
{
	struct addr key = p->src;
	mask_prefix(&key, p->is6 ? cfg->v6_prefix : 96 + cfg->v4_prefix);
	__u64 now = bpf_ktime_get_ns();
	struct bucket *b = bpf_map_lookup_elem(&buckets, &key);
	if (!b) {
		struct bucket fresh = {.last = now, .tokens = cfg->cap - NANO};
		bpf_map_update_elem(&buckets, &key, &fresh, BPF_NOEXIST);
		return count(STAT_PASS_LIMIT, XDP_PASS);
	}
	/* Another CPU may have stored a later time than ours: never refill then. */
	__u64 last = b->last;
	__u64 elapsed = now > last ? now - last : 0;
	__u64 tokens = b->tokens;
	if (elapsed >= cfg->fill_ns)
		tokens = cfg->cap;
	else
		tokens += elapsed * cfg->rate; /* < cap: elapsed < fill_ns */
	if (tokens > cfg->cap)
		tokens = cfg->cap;
	if (elapsed)
		b->last = now;
	if (tokens >= NANO) {
		b->tokens = tokens - NANO;
		return count(STAT_PASS_LIMIT, XDP_PASS);
	}
	b->tokens = tokens;
	__u32 n = __sync_fetch_and_add(&b->excess, 1) + 1;
	if (cfg->slip && n % cfg->slip == 0)
		return slip(ctx, eth, p);
	return count(STAT_DROP_LIMIT, XDP_DROP);
}

SEC("xdp")
int dnsward_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	struct config *cfg = bpf_map_lookup_elem(&config_map, &zero);
	struct ethhdr *eth = data;
	if (!cfg || (void *)(eth + 1) > data_end)
		return XDP_PASS;

	__be16 proto = eth->h_proto;
	void *l3 = eth + 1;
	__u32 l3_off = sizeof(*eth);
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vh = l3;
		if ((void *)(vh + 1) > data_end)
			return count(STAT_DROP_MALFORMED, XDP_DROP);
		proto = vh->proto;
		l3 = vh + 1;
		l3_off += sizeof(*vh);
	}

	struct pkt p = {.l3_off = l3_off};
	int res = PARSE_OTHER;
	if (proto == bpf_htons(ETH_P_IP))
		res = parse_ipv4(l3, data_end, &p);
	else if (proto == bpf_htons(ETH_P_IPV6))
		res = parse_ipv6(l3, data_end, &p);
	if (res == PARSE_OTHER)
		return count(STAT_PASS_OTHER, XDP_PASS);
	if (res == PARSE_MALFORMED || (void *)(p.udp + 1) > data_end)
		return count(STAT_DROP_MALFORMED, XDP_DROP);
	if (!is_dns_port(cfg, bpf_ntohs(p.udp->dest)))
		return count(STAT_PASS_OTHER, XDP_PASS);
	if (p.frag)
		return count(STAT_DROP_FRAGMENT, XDP_DROP);

	__u8 *dns = (void *)(p.udp + 1);
	if ((void *)(dns + DNS_HDR_LEN) > data_end ||
	    bpf_ntohs(p.udp->len) < sizeof(struct udphdr) + DNS_HDR_LEN ||
	    (dns[2] & 0x80) ||                /* QR: an answer, not a query */
	    dns[4] != 0 || dns[5] != 1)       /* QDCOUNT != 1 */
		return count(STAT_DROP_MALFORMED, XDP_DROP);

	/* The most specific match wins; deny wins a tie. */
	__u32 allow = list_match(&allow_list, &p.src);
	__u32 deny = list_match(&deny_list, &p.src);
	if (deny && deny >= allow)
		return count(STAT_DROP_DENY, XDP_DROP);
	if (allow)
		return count(STAT_PASS_ALLOW, XDP_PASS);
	return charge(ctx, eth, &p, cfg);
}
