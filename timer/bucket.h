/* SPDX-License-Identifier: MIT */
/*
 * Timer buckets, header-only: one bucket per deadline millisecond.
 *
 * Deadlines are whole loop milliseconds, so timers bunch up: a million
 * timers usually share a few thousand deadlines. A bucket holds the timers
 * of one deadline in start order, so FIFO among equal deadlines is the
 * order of its vector, and a restart is "leave a hole, append". Only
 * buckets enter the 4-ary heap (heap.h): starting a timer whose deadline
 * already has a bucket is a hash lookup and an append, and firing walks an
 * array. No per-timer heap entry, no per-timer sift.
 *
 * A timer names its place by two 32-bit private fields: the bucket's id
 * (an index into byid, fixed for the bucket's life) and its slot there.
 * An open-addressing map (linear probing, load <= 1/2, backward-shift
 * deletion so no tombstones) finds the bucket of a deadline; a one-entry
 * cache skips it when starts repeat the last deadline.
 *
 * A bucket is in one of three states:
 *   queued    in the heap and the map; takes new timers;
 *   detached  being fired (ringo__timers_run): out of heap and map, so a
 *             timer started meanwhile goes to a fresh bucket and waits for
 *             the next pass; a stop only leaves a hole;
 *   free      on the free list, for reuse.
 * heap_index is HEAP_NONE in the last two.
 *
 * Memory. Nothing is allocated per start beyond amortised growth:
 *  - a slot vector doubles from TB_MIN_SLOTS; holes are trimmed off its
 *    end at once, and squeezed out (order kept) once there are at least
 *    TB_COMPACT_MIN of them and they outnumber the live timers, so a
 *    vector holds at most 2 * live + TB_COMPACT_MIN slots;
 *  - a fired or emptied bucket goes to the free list and keeps its vector
 *    when that has at most TB_KEEP_SLOTS slots (a bigger one is freed), so
 *    a loop restarting timers at a steady rate reuses buckets without
 *    malloc;
 *  - bucket structs, byid, the map and the heap grow to the peak number of
 *    distinct pending deadlines and keep that size until loop close.
 * Idle memory is so bounded by the peak: per bucket ever needed at once,
 * at most sizeof(struct tbucket) + TB_KEEP_SLOTS * 8 bytes (8.2 KiB) plus
 * about 40 bytes of heap, id and map entries. The usual case costs 8 bytes
 * per timer plus that per distinct millisecond; the worst case, every
 * timer on a millisecond of its own, about 125 bytes per timer (a heap of
 * timers: 24).
 */
#ifndef RINGO_TIMER_BUCKET_H
#define RINGO_TIMER_BUCKET_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "heap.h"
#include "ringo.h"

#define TB_NONE UINT32_MAX	/* ringo_timer.bucket of a timer in no bucket */
#define TB_MIN_SLOTS 4
#define TB_COMPACT_MIN 32
#define TB_KEEP_SLOTS 1024
#define TB_MIN_MAP_BITS 6

struct tbucket {
	uint64_t deadline;	/* ms, loop clock */
	uint32_t id;		/* index in byid */
	uint32_t heap_index;	/* HEAP_NONE: detached or free */
	uint32_t len;		/* slots in use, holes included */
	uint32_t cap;
	uint32_t live;		/* slots holding a timer */
	ringo_timer_t **slots;	/* start order; NULL where a timer left */
	struct tbucket *next;	/* free list, or the list being fired */
};

struct tbuckets {
	struct heap heap;	/* queued buckets by deadline (seq unused: unique) */
	struct tbucket **byid;
	struct tbucket *free;
	struct tbucket *last;	/* the bucket of the last lookup, if still queued */
	uint32_t *map;		/* deadline -> id + 1; 0 is an empty cell */
	uint32_t nids, capids;	/* buckets ever made, room in byid */
	uint32_t map_bits;	/* the map has 1 << map_bits cells (0: none yet) */
	uint32_t map_used;
};

static inline void tb_set_index(void *ptr, uint32_t index)
{
	((struct tbucket *)ptr)->heap_index = index;
}

/* Fibonacci hashing: consecutive milliseconds land far apart. */
static inline uint32_t tb_home(const struct tbuckets *s, uint64_t deadline)
{
	return (uint32_t)((deadline * 0x9E3779B97F4A7C15ULL) >> (64 - s->map_bits));
}

static inline uint32_t tb_mask(const struct tbuckets *s)
{
	return (1U << s->map_bits) - 1;
}

static inline uint64_t tb_cell_deadline(const struct tbuckets *s, uint32_t cell)
{
	return s->byid[cell - 1]->deadline;
}

/* The queued bucket of `deadline`, or NULL. */
static inline struct tbucket *tb_find(struct tbuckets *s, uint64_t deadline)
{
	struct tbucket *b = s->last;
	uint32_t i, cell;

	if (b && b->deadline == deadline && b->heap_index != HEAP_NONE)
		return b;
	if (!s->map_bits)
		return NULL;
	for (i = tb_home(s, deadline); (cell = s->map[i]); i = (i + 1) & tb_mask(s))
		if (tb_cell_deadline(s, cell) == deadline)
			return s->last = s->byid[cell - 1];
	return NULL;
}

static inline void tb_map_put(struct tbuckets *s, const struct tbucket *b)
{
	uint32_t i = tb_home(s, b->deadline);

	while (s->map[i])
		i = (i + 1) & tb_mask(s);
	s->map[i] = b->id + 1;
	s->map_used++;
}

/* Make room for one more key, doubling at load 1/2. */
static inline int tb_map_reserve(struct tbuckets *s)
{
	uint32_t *old = s->map, old_size = s->map_bits ? 1U << s->map_bits : 0, bits, i;

	if ((s->map_used + 1) * 2 <= old_size)
		return 0;
	bits = s->map_bits ? s->map_bits + 1 : TB_MIN_MAP_BITS;
	if (bits > 31)
		return -ENOMEM;
	s->map = calloc((size_t)1 << bits, sizeof(*s->map));
	if (!s->map) {
		s->map = old;
		return -ENOMEM;
	}
	s->map_bits = bits;
	s->map_used = 0;
	for (i = 0; i < old_size; i++)
		if (old[i])
			tb_map_put(s, s->byid[old[i] - 1]);
	free(old);
	return 0;
}

/*
 * Backward-shift deletion: pull each later cell of the probe run into the
 * hole unless its home lies cyclically in (hole, cell], where moving it
 * would put it before its home.
 */
static inline void tb_map_del(struct tbuckets *s, const struct tbucket *b)
{
	uint32_t mask = tb_mask(s), i = tb_home(s, b->deadline), j, k;

	while (s->map[i] != b->id + 1)
		i = (i + 1) & mask;
	for (j = i;;) {
		j = (j + 1) & mask;
		if (!s->map[j])
			break;
		k = tb_home(s, tb_cell_deadline(s, s->map[j]));
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		s->map[i] = s->map[j];
		i = j;
	}
	s->map[i] = 0;
	s->map_used--;
}

/* A bucket struct from the free list or, at a new peak, from malloc. */
static inline struct tbucket *tb_alloc(struct tbuckets *s)
{
	struct tbucket *b = s->free, **byid;
	uint32_t cap;

	if (b) {
		s->free = b->next;
		return b;
	}
	if (s->nids == s->capids) {
		if (s->capids >= TB_NONE / 2)
			return NULL;
		cap = s->capids ? s->capids * 2 : 64;
		byid = realloc(s->byid, (size_t)cap * sizeof(*byid));
		if (!byid)
			return NULL;
		s->byid = byid;
		s->capids = cap;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->id = s->nids++;
	b->heap_index = HEAP_NONE;
	s->byid[b->id] = b;
	return b;
}

/* To the free list. A big vector is let go: see the memory bound above. */
static inline void tb_release(struct tbuckets *s, struct tbucket *b)
{
	if (b->cap > TB_KEEP_SLOTS) {
		free(b->slots);
		b->slots = NULL;
		b->cap = 0;
	}
	b->len = b->live = 0;
	b->heap_index = HEAP_NONE;
	b->next = s->free;
	s->free = b;
}

/* The queued bucket of `deadline`, made if need be; NULL: out of memory. */
static inline struct tbucket *tb_get(struct tbuckets *s, uint64_t deadline)
{
	struct tbucket *b = tb_find(s, deadline);
	struct heap_ent e = { .deadline = deadline, .seq = 0 };

	if (b)
		return b;
	if (tb_map_reserve(s) || !(b = tb_alloc(s)))
		return NULL;
	b->deadline = deadline;
	e.ptr = b;
	if (heap_push(&s->heap, &e, tb_set_index)) {
		tb_release(s, b);
		return NULL;
	}
	tb_map_put(s, b);
	return s->last = b;
}

/* Out of heap and map (the caller then fires or releases it). */
static inline void tb_unqueue(struct tbuckets *s, struct tbucket *b)
{
	heap_remove(&s->heap, b->heap_index, tb_set_index);
	tb_map_del(s, b);
}

/* Squeeze the holes out, keeping start order. */
static inline void tb_compact(struct tbucket *b)
{
	uint32_t i, j = 0;

	for (i = 0; i < b->len; i++) {
		if (!b->slots[i])
			continue;
		b->slots[j] = b->slots[i];
		b->slots[j]->slot = j;
		j++;
	}
	b->len = j;
}

/* Append `t` to the line of `deadline`. 0 or -ENOMEM (nothing changed). */
static inline int tb_insert(struct tbuckets *s, ringo_timer_t *t, uint64_t deadline)
{
	struct tbucket *b = tb_get(s, deadline);
	ringo_timer_t **n;
	uint32_t cap;

	if (!b)
		return -ENOMEM;
	if (b->len == b->cap) {
		cap = b->cap ? b->cap * 2 : TB_MIN_SLOTS;
		n = cap > b->cap ? realloc(b->slots, (size_t)cap * sizeof(*n)) : NULL;
		if (!n) {
			if (!b->live) {
				tb_unqueue(s, b);
				tb_release(s, b);
			}
			return -ENOMEM;
		}
		b->slots = n;
		b->cap = cap;
	}
	t->bucket = b->id;
	t->slot = b->len;
	b->slots[b->len++] = t;
	b->live++;
	return 0;
}

/* Take `t` out of its bucket, if it is in one. */
static inline void tb_remove(struct tbuckets *s, ringo_timer_t *t)
{
	struct tbucket *b;

	if (t->bucket == TB_NONE)
		return;
	b = s->byid[t->bucket];
	b->slots[t->slot] = NULL;
	b->live--;
	t->bucket = TB_NONE;
	/* Detached: the pass firing it walks the slots and releases it. */
	if (b->heap_index == HEAP_NONE)
		return;
	if (!b->live) {
		tb_unqueue(s, b);
		tb_release(s, b);
		return;
	}
	while (!b->slots[b->len - 1])
		b->len--;
	if (b->len - b->live >= TB_COMPACT_MIN && b->len - b->live > b->live)
		tb_compact(b);
}

/* Take the timer at `slot` out of a detached bucket, to fire it. */
static inline ringo_timer_t *tb_take(struct tbucket *b, uint32_t slot)
{
	ringo_timer_t *t = b->slots[slot];

	if (t) {
		b->slots[slot] = NULL;
		b->live--;
		t->bucket = TB_NONE;
	}
	return t;
}

/*
 * Detach every bucket due at `now`: the list, in deadline order, of what
 * this pass fires. Timers started from here on find no bucket to join.
 */
static inline struct tbucket *tb_detach_due(struct tbuckets *s, uint64_t now)
{
	struct tbucket *head = NULL, **tail = &head, *b;
	const struct heap_ent *e;

	while ((e = heap_min(&s->heap)) && e->deadline <= now) {
		b = e->ptr;
		tb_unqueue(s, b);
		b->next = NULL;
		*tail = b;
		tail = &b->next;
	}
	return head;
}

static inline uint64_t tb_next_deadline(const struct tbuckets *s)
{
	const struct heap_ent *e = heap_min(&s->heap);

	return e ? e->deadline : UINT64_MAX;
}

/* The deadline of a timer that is in a bucket (queued or detached). */
static inline uint64_t tb_deadline_of(const struct tbuckets *s, const ringo_timer_t *t)
{
	return s->byid[t->bucket]->deadline;
}

static inline void tb_free_all(struct tbuckets *s)
{
	uint32_t i;

	for (i = 0; i < s->nids; i++) {
		free(s->byid[i]->slots);
		free(s->byid[i]);
	}
	free(s->byid);
	free(s->map);
	heap_free(&s->heap);
	*s = (struct tbuckets){ 0 };
}

#endif
