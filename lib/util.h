/* util.h -- Small helpers every program shares: allocation that aborts on
 * out-of-memory, clocks, and string bits. */
#ifndef AA_UTIL_H
#define AA_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Returns: owned, free with free(). Aborts the process when memory runs out. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Returns: owned, free with free(); printf-style. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Milliseconds since the Unix epoch (wall clock). */
int64_t wall_ms(void);
/* Microseconds from a monotonic clock (for durations only). */
int64_t mono_us(void);

/* Copies at most dstlen-1 bytes and always terminates. Returns strlen(src). */
size_t strlcpy_aa(char *dst, const char *src, size_t dstlen);

/* 1 when [s, s+len) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF) without NUL bytes: text that a JSON
 * record can hold. */
int utf8_text_valid(const char *s, size_t len);

/* Parses a stream entry id "ms-seq" into two numbers. Returns 0 / -1. */
int stream_id_parse(const char *s, uint64_t *ms, uint64_t *seq);
/* Compares two stream ids; an unparsable id sorts first. */
int stream_id_cmp(const char *a, const char *b);

#endif
