/* Allocation wrappers: every heap allocation in songrec goes through these, so a test
 * can make the Nth one fail (sr_mem_fail_after) and check that nothing leaks or
 * crashes on the way out. sr_free(NULL) is a no-op. Sizes are checked for overflow.
 */
#ifndef SR_MEM_H
#define SR_MEM_H

#include <stddef.h>

void *sr_malloc(size_t n);
void *sr_calloc(size_t count, size_t size);
void *sr_realloc(void *p, size_t n);
/* n * size with overflow check; NULL on overflow or failure. */
void *sr_mallocarray(size_t count, size_t size);
void *sr_reallocarray(void *p, size_t count, size_t size);
char *sr_strndup(const char *s, size_t n);
char *sr_strdup(const char *s);
void sr_free(void *p);

/* Testing: fail every allocation after n more succeed; n < 0 disables. */
void sr_mem_fail_after(long n);

/* Grows *p (of *cap elements of size elem) to hold at least need elements,
 * doubling. Returns 0 or -1 on failure (then *p is unchanged). */
int sr_grow(void **p, size_t *cap, size_t need, size_t elem);

#endif
