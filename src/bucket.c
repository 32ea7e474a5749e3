/*
 * bucket.c
 *	  A contact's bucket under a seed: segments.bucket() and the sample and
 *	  bucket conditions of rules (docs/design.md, "Samples").
 *
 * The bucket is a hash of the seed, the tenant's text and the key's text,
 * reduced to 0 .. 9999.  It is part of the contract, like a stored format:
 * the same contact with the same seed is in the same bucket in every
 * release, after a dump and restore, on every platform, and in SQL and C
 * alike.  So it is spelled out here rather than borrowed from PostgreSQL's
 * hash functions, which serve hash indexes and may change between major
 * versions:
 *
 *	 bytes	= seed, 0x00, tenant (empty when none), 0x00, key
 *	 h		= FNV-1a, 64 bits, of bytes
 *	 h		= h mixed by MurmurHash3's 64-bit finalizer (fmix64)
 *	 bucket = h mod 10000
 *
 * FNV-1a alone leaves consecutive keys ("1", "2", ...) close in the low
 * bits; the finalizer spreads every input bit over the output, so the
 * remainder is uniform.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "bucket.h"
#include "rule_format.h"

PG_FUNCTION_INFO_V1(segments_bucket);

#define FNV_OFFSET	UINT64CONST(0xcbf29ce484222325)
#define FNV_PRIME	UINT64CONST(0x100000001b3)

static uint64
fnv1a(uint64 h, const char *bytes, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		h ^= (unsigned char) bytes[i];
		h *= FNV_PRIME;
	}
	return h;
}

static uint64
fmix64(uint64 h)
{
	h ^= h >> 33;
	h *= UINT64CONST(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64CONST(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

uint32_t
bucket_of(const char *seed, size_t seedlen, const char *key, size_t keylen,
		  const char *tenant, size_t tenantlen)
{
	static const char separator = '\0';
	uint64		h = FNV_OFFSET;

	h = fnv1a(h, seed, seedlen);
	h = fnv1a(h, &separator, 1);
	if (tenant)
		h = fnv1a(h, tenant, tenantlen);
	h = fnv1a(h, &separator, 1);
	h = fnv1a(h, key, keylen);
	return (uint32_t) (fmix64(h) % RULE_BUCKETS);
}

/*
 * segments.bucket(seed text, contact text, tenant text DEFAULT NULL)
 * -> integer: the bucket of the contact whose key (and tenant) have this
 * text.  NULL when the seed or the contact is NULL.
 */
Datum
segments_bucket(PG_FUNCTION_ARGS)
{
	text	   *seed;
	text	   *key;
	text	   *tenant = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	seed = PG_GETARG_TEXT_PP(0);
	key = PG_GETARG_TEXT_PP(1);
	if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
		tenant = PG_GETARG_TEXT_PP(2);
	PG_RETURN_INT32((int32) bucket_of(VARDATA_ANY(seed), VARSIZE_ANY_EXHDR(seed),
									  VARDATA_ANY(key), VARSIZE_ANY_EXHDR(key),
									  tenant ? VARDATA_ANY(tenant) : NULL,
									  tenant ? VARSIZE_ANY_EXHDR(tenant) : 0));
}
