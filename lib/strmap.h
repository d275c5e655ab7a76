/* strmap.h -- A string-keyed hash map with chaining that grows by doubling.
 * Keys are copied; values are borrowed pointers the caller owns. */
#ifndef AA_STRMAP_H
#define AA_STRMAP_H

#include <stddef.h>

struct strmap;

/* Returns: owned, free with strmap_free (values are not freed). */
struct strmap *strmap_new(void);
void strmap_free(struct strmap *m);
/* strmap_free, and free() on every value. */
void strmap_free_values(struct strmap *m);
/* Borrowed: the value, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);
/* Sets key to val (replacing any value). */
void strmap_set(struct strmap *m, const char *key, void *val);
/* Removes key. Returns its value, or NULL. */
void *strmap_del(struct strmap *m, const char *key);
size_t strmap_size(const struct strmap *m);

#endif
