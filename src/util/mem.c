/* Allocation wrappers with optional fault injection (mem.h). The fail counter is
 * atomic because training and ingest allocate from several threads. */
#include "util/mem.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static _Atomic long fail_after = -1;

void sr_mem_fail_after(long n) {
    atomic_store(&fail_after, n);
}

static int should_fail(void) {
    long v = atomic_load(&fail_after);
    if (v < 0) return 0;
    while (v > 0) {
        if (atomic_compare_exchange_weak(&fail_after, &v, v - 1)) return 0;
    }
    return v == 0;
}

void *sr_malloc(size_t n) {
    if (should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *sr_calloc(size_t count, size_t size) {
    if (should_fail()) return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *sr_realloc(void *p, size_t n) {
    if (should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

void *sr_mallocarray(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return NULL;
    return sr_malloc(count * size);
}

void *sr_reallocarray(void *p, size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) return NULL;
    return sr_realloc(p, count * size);
}

char *sr_strndup(const char *s, size_t n) {
    char *d = sr_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

char *sr_strdup(const char *s) {
    return sr_strndup(s, strlen(s));
}

void sr_free(void *p) {
    free(p);
}

int sr_grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2) return -1;
        n *= 2;
    }
    void *q = sr_reallocarray(*p, n, elem);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}
