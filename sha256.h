/*
 * sha256.h - SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104), a
 * constant-time compare and SipHash-2-4, implemented in sha256.c. Meant
 * to be folded into pnc.h; until then the tests include it directly.
 */
#ifndef SHA256_H
#define SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32	/* digest and HMAC tag, bytes */
#define SHA256_BLOCK	64	/* block size, bytes; also HMAC's B */

struct sha256 {
	uint32_t	h[8];		/* chaining state */
	uint64_t	len;		/* bytes hashed so far */
	unsigned char	buf[64];	/* partial block */
	size_t		nbuf;		/* bytes in buf, always < 64 */
};

struct hmac_sha256 {
	struct sha256	inner, outer;	/* keyed with K^ipad, K^opad */
};

void	sha256_init(struct sha256 *);
void	sha256_update(struct sha256 *, const void *, size_t);
void	sha256_final(struct sha256 *, unsigned char [32]);

void	hmac_sha256(const void *, size_t, const void *, size_t,
	    unsigned char [32]);
void	hmac_init(struct hmac_sha256 *, const void *, size_t);
void	hmac_update(struct hmac_sha256 *, const void *, size_t);
void	hmac_final(struct hmac_sha256 *, unsigned char [32]);

int	ct_equal(const void *, const void *, size_t);

uint64_t siphash24(const uint64_t [2], const void *, size_t);

#endif /* SHA256_H */
