/* ids.h -- Cryptographically random identifiers (connection, execution and
 * callback ids) from the kernel's CSPRNG. */
#ifndef AA_IDS_H
#define AA_IDS_H

#include <stddef.h>

/* Writes prefix followed by 2*nbytes lowercase hex characters into out.
 * Returns 0 / -1 (out too small, or no randomness available). */
int id_random(char *out, size_t outlen, const char *prefix, size_t nbytes);

/* The same with base64url characters (A-Z a-z 0-9 - _): shorter ids for
 * records kept in large numbers. nbytes must be a multiple of 3. */
int id_random_b64(char *out, size_t outlen, const char *prefix, size_t nbytes);

/* Returns 1 when s is a plausible id: 1..maxlen chars of [A-Za-z0-9._:-]. */
int id_valid(const char *s, size_t maxlen);

/* Returns 1 when s has the shape of a callback id the runtime makes:
 * "cb-", 1-100 of [A-Za-z0-9_-], optionally "." and a tag of 1-16 of the
 * same. Nothing else can name a callback record (aa:cb:<id>), so the
 * indexes beside the records (aa:cb:deadlines, aa:cb:completed) never can. */
int id_callback_valid(const char *s);

#endif
