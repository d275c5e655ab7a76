/* strmap.c -- FNV-1a hashed chains, load factor at most 1. */
#include "strmap.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    struct entry *next;
    uint64_t hash;
    void *val;
    char key[];
};

struct strmap {
    struct entry **slots;
    size_t nslots, size;
};

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

struct strmap *strmap_new(void)
{
    struct strmap *m = xcalloc(1, sizeof(*m));
    m->nslots = 64;
    m->slots = xcalloc(m->nslots, sizeof(*m->slots));
    return m;
}

static void destroy(struct strmap *m, int values)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nslots; i++) {
        struct entry *e = m->slots[i];
        while (e) {
            struct entry *n = e->next;
            if (values)
                free(e->val);
            free(e);
            e = n;
        }
    }
    free(m->slots);
    free(m);
}

void strmap_free(struct strmap *m)
{
    destroy(m, 0);
}

void strmap_free_values(struct strmap *m)
{
    destroy(m, 1);
}

static struct entry **find(const struct strmap *m, const char *key, uint64_t h)
{
    struct entry **pp = &m->slots[h & (m->nslots - 1)];
    while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
        pp = &(*pp)->next;
    return pp;
}

void *strmap_get(const struct strmap *m, const char *key)
{
    struct entry **pp = find(m, key, fnv(key));
    return *pp ? (*pp)->val : NULL;
}

static void grow(struct strmap *m)
{
    size_t n = m->nslots * 2;
    struct entry **slots = xcalloc(n, sizeof(*slots));
    for (size_t i = 0; i < m->nslots; i++) {
        struct entry *e = m->slots[i];
        while (e) {
            struct entry *next = e->next;
            e->next = slots[e->hash & (n - 1)];
            slots[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = n;
}

void strmap_set(struct strmap *m, const char *key, void *val)
{
    uint64_t h = fnv(key);
    struct entry **pp = find(m, key, h);
    if (*pp) {
        (*pp)->val = val;
        return;
    }
    size_t len = strlen(key);
    struct entry *e = xmalloc(sizeof(*e) + len + 1);
    memcpy(e->key, key, len + 1);
    e->hash = h;
    e->val = val;
    e->next = NULL;
    *pp = e;
    if (++m->size > m->nslots)
        grow(m);
}

void *strmap_del(struct strmap *m, const char *key)
{
    struct entry **pp = find(m, key, fnv(key));
    if (!*pp)
        return NULL;
    struct entry *e = *pp;
    void *v = e->val;
    *pp = e->next;
    free(e);
    m->size--;
    return v;
}

size_t strmap_size(const struct strmap *m)
{
    return m->size;
}
