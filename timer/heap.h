/* SPDX-License-Identifier: MIT */
/*
 * A 4-ary min-heap of deadlines, header-only: of timer buckets (bucket.h)
 * and of request deadlines (deadline.c).
 *
 * Entries hold their sort key (deadline, seq) next to the pointer, so
 * sifting compares keys in one array without touching the elements
 * themselves; each element knows its slot (via the set_index callback) so
 * removal from the middle is O(log n). A 4-ary heap is half as deep as a
 * binary one and its four children share a cache line or two, which is what
 * a million entries need (libev uses the same shape).
 *
 * `seq` breaks ties: equal deadlines pop in the order they were pushed.
 * The array grows by doubling and never shrinks below what it held, so
 * pushes allocate only when the live count reaches a new maximum.
 */
#ifndef RINGO_HEAP_H
#define RINGO_HEAP_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

struct heap_ent {
	uint64_t deadline;	/* ms, loop clock */
	uint64_t seq;		/* push order, for FIFO ties */
	void *ptr;
};

struct heap {
	struct heap_ent *ents;
	uint32_t len;
	uint32_t cap;
};

/* Told where an element now lives after every move. */
typedef void (*heap_set_index_fn)(void *ptr, uint32_t index);

#define HEAP_ARITY 4
#define HEAP_NONE UINT32_MAX	/* index of an element that is in no heap */

static inline int heap_less(const struct heap_ent *a, const struct heap_ent *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static inline void heap_place(struct heap *h, uint32_t i, const struct heap_ent *e,
			      heap_set_index_fn set_index)
{
	h->ents[i] = *e;
	set_index(e->ptr, i);
}

static inline void heap_sift_up(struct heap *h, uint32_t i, heap_set_index_fn set_index)
{
	struct heap_ent e = h->ents[i];
	uint32_t parent;

	while (i > 0) {
		parent = (i - 1) / HEAP_ARITY;
		if (!heap_less(&e, &h->ents[parent]))
			break;
		heap_place(h, i, &h->ents[parent], set_index);
		i = parent;
	}
	heap_place(h, i, &e, set_index);
}

static inline void heap_sift_down(struct heap *h, uint32_t i, heap_set_index_fn set_index)
{
	struct heap_ent e = h->ents[i];
	uint32_t c, best, first, last;

	for (;;) {
		first = i * HEAP_ARITY + 1;
		if (first >= h->len)
			break;
		last = first + HEAP_ARITY < h->len ? first + HEAP_ARITY : h->len;
		best = first;
		for (c = first + 1; c < last; c++)
			if (heap_less(&h->ents[c], &h->ents[best]))
				best = c;
		if (!heap_less(&h->ents[best], &e))
			break;
		heap_place(h, i, &h->ents[best], set_index);
		i = best;
	}
	heap_place(h, i, &e, set_index);
}

static inline int heap_reserve(struct heap *h)
{
	struct heap_ent *n;
	uint32_t cap;

	if (h->len < h->cap)
		return 0;
	if (h->cap >= UINT32_MAX / 2)
		return -ENOMEM;
	cap = h->cap ? h->cap * 2 : 64;
	n = realloc(h->ents, (size_t)cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	h->ents = n;
	h->cap = cap;
	return 0;
}

static inline int heap_push(struct heap *h, const struct heap_ent *e, heap_set_index_fn set_index)
{
	int ret = heap_reserve(h);

	if (ret)
		return ret;
	h->ents[h->len] = *e;
	heap_sift_up(h, h->len++, set_index);
	return 0;
}

static inline void heap_remove(struct heap *h, uint32_t i, heap_set_index_fn set_index)
{
	void *gone = h->ents[i].ptr;

	if (i != --h->len) {
		h->ents[i] = h->ents[h->len];
		if (i > 0 && heap_less(&h->ents[i], &h->ents[(i - 1) / HEAP_ARITY]))
			heap_sift_up(h, i, set_index);
		else
			heap_sift_down(h, i, set_index);
	}
	set_index(gone, HEAP_NONE);
}

/* now + ms in loop ms, saturating: a huge timeout means "never". */
static inline uint64_t deadline_after(uint64_t now, uint64_t ms)
{
	return ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
}

static inline const struct heap_ent *heap_min(const struct heap *h)
{
	return h->len ? &h->ents[0] : NULL;
}

static inline void heap_free(struct heap *h)
{
	free(h->ents);
	h->ents = NULL;
	h->len = h->cap = 0;
}

#endif
