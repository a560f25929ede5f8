/* SPDX-License-Identifier: MIT */
/*
 * Timer buckets, header-only: one bucket per deadline millisecond.
 *
 * Deadlines are whole loop milliseconds, so timers bunch up: a million
 * timers usually share a few thousand deadlines. A bucket holds the timers
 * of one deadline in start order (its "line"), so FIFO among equal
 * deadlines is the order of the line, and a restart is "leave a hole,
 * append". Only buckets enter the 4-ary heap (heap.h): starting a timer
 * whose deadline already has a bucket is a hash lookup and an append, and
 * firing walks the line. No per-timer heap entry, no per-timer sift.
 *
 * Lines are chains of fixed chunks of TC_SLOTS timer pointers, taken from
 * one pool per loop. A chunk id and a slot in it make a 32-bit position,
 * which the timer keeps, with its repeat, in the handle's priv bytes (so
 * a timer is the handle fields plus its callback: 48 bytes). The chunk
 * knows its bucket, so a stop is: position -> chunk -> slot and bucket.
 * Chunks live in segments that never move (segment k holds TC_SEG0 << k
 * chunks), so a chunk id maps to its memory with one clz, a pointer to a
 * chunk stays valid while callbacks start other timers, and growing the
 * pool never copies it.
 *
 * An open-addressing map (linear probing, load <= 1/2, backward-shift
 * deletion so no tombstones) finds the bucket of a deadline; a one-entry
 * cache skips it when starts repeat the last deadline.
 *
 * A bucket is in one of three states:
 *   queued    in the heap and the map; takes new timers;
 *   detached  being fired (ringo__timers_run): out of heap and map, so a
 *             timer started meanwhile goes to a fresh bucket and waits for
 *             the next pass; a stop only leaves a hole;
 *   free      on the free list, for reuse; it owns no chunk.
 * heap_index is HEAP_NONE in the last two.
 *
 * Memory. Nothing is allocated per start beyond amortised growth:
 *  - a line holds at most 2 * live + TB_COMPACT_MIN slots (holes at its
 *    end are trimmed at once; holes are squeezed out, order kept, once
 *    there are at least TB_COMPACT_MIN of them and they outnumber the live
 *    timers), so at most that many slots rounded up to whole chunks plus
 *    one chunk;
 *  - a fired or emptied bucket gives its chunks back to the pool's free
 *    list and goes to the bucket free list;
 *  - chunks, bucket structs, byid, the map and the heap grow to their
 *    peak and keep that size until loop close.
 * Idle memory is so bounded by the peak: sizeof(struct tchunk) (40
 * bytes) per TC_SLOTS (4) timers pending at once, plus per distinct
 * pending deadline a bucket, a heap entry, a byid and a map cell (about
 * 100 bytes with malloc's and the arrays' slack) and one partly filled
 * chunk. The usual case costs 10 bytes per timer plus that per distinct
 * millisecond (the million_timers shape, 1M timers on 1000 deadlines:
 * 10.5 MB); the worst case, every timer on a millisecond of its own,
 * about 150 bytes per timer. Bigger chunks save a little in the first
 * case and cost a lot in the second (16 slots: 9.4 and 240 bytes).
 */
#ifndef RINGO_TIMER_BUCKET_H
#define RINGO_TIMER_BUCKET_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "heap.h"
#include "ringo.h"

#define TB_NONE UINT32_MAX	/* no position, chunk or bucket */
/* A timer's position (chunk << TC_SHIFT | slot): kept in the handle's
 * priv, which is the timer's own until ringo_close. */
#define TB_POS(t) ((t)->priv.own.u32[0])
#define TB_COMPACT_MIN 32
#define TB_MIN_MAP_BITS 6
#define TB_MIN_IDS 64		/* first size of byid */

#define TC_SHIFT 2
#define TC_SLOTS (1U << TC_SHIFT)	/* timers per chunk */
#define TC_SEG0 8U			/* chunks in segment 0; segment k: TC_SEG0 << k */
/* Chunk ids stay below this, so that no position is TB_NONE. */
#define TC_MAX_IDS (TB_NONE >> TC_SHIFT)
/* Segments for every id below TC_MAX_IDS (checked below). */
#define TC_MAX_SEGS 28

struct tchunk {
	uint32_t next;		/* next chunk of the line or of the free list */
	uint32_t bucket;	/* id of the bucket whose line it is in */
	ringo_timer_t *slot[TC_SLOTS];	/* start order; NULL where a timer left */
};

/* The chunk pool, allocated with the first chunk. */
struct tchunks {
	struct tchunk *seg[TC_MAX_SEGS];
	uint32_t used;		/* ids handed out: the pool's peak */
	uint32_t free;		/* first free chunk, or TB_NONE */
};

struct tbucket {
	uint64_t deadline;	/* ms, loop clock */
	uint32_t id;		/* index in byid */
	uint32_t heap_index;	/* HEAP_NONE: detached or free */
	uint32_t head;		/* first chunk of the line, TB_NONE: none */
	uint32_t tail;		/* last chunk, where starts append */
	uint32_t tail_len;	/* slots used in the tail chunk */
	uint32_t len;		/* slots in the line, holes included */
	uint32_t live;		/* slots holding a timer */
	struct tbucket *next;	/* free list, or the list being fired */
};

/*
 * Sized to fit the loop's private state as it was: the live bucket count
 * is heap.len (every queued bucket is in both heap and map), byid's room
 * follows from nids (it doubles from TB_MIN_IDS), and the chunk pool sits
 * behind a pointer.
 */
struct tbuckets {
	struct heap heap;	/* queued buckets by deadline (seq unused: unique) */
	struct tbucket **byid;
	struct tbucket *free;
	struct tbucket *last;	/* the bucket of the last lookup, if still queued */
	uint32_t *map;		/* deadline -> id + 1; 0 is an empty cell */
	struct tchunks *chunks;
	uint32_t nids;		/* buckets ever made */
	uint32_t map_bits;	/* the map has 1 << map_bits cells (0: none yet) */
};

/* ---- Chunks ------------------------------------------------------------ */

static inline uint32_t tc_seg_of(uint32_t id)
{
	return 31 - (uint32_t)__builtin_clz(id / TC_SEG0 + 1);
}

_Static_assert(31 - __builtin_clz((TC_MAX_IDS - 1) / TC_SEG0 + 1) < TC_MAX_SEGS,
	       "TC_MAX_SEGS does not cover every chunk id");

static inline struct tchunk *tc_get(const struct tchunks *c, uint32_t id)
{
	uint32_t seg = tc_seg_of(id);

	return &c->seg[seg][id - TC_SEG0 * ((1U << seg) - 1)];
}

/* A chunk id from the free list or, at a new peak, the next one; TB_NONE:
 * out of memory or of ids. */
static inline uint32_t tc_alloc(struct tbuckets *s)
{
	struct tchunks *c = s->chunks;
	uint32_t id, seg;

	if (!c) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return TB_NONE;
		c->free = TB_NONE;
		s->chunks = c;
	}
	if (c->free != TB_NONE) {
		id = c->free;
		c->free = tc_get(c, id)->next;
		return id;
	}
	if (c->used >= TC_MAX_IDS)
		return TB_NONE;
	id = c->used;
	seg = tc_seg_of(id);
	/* Not zeroed: a chunk's header and slots are written before use, and
	 * the untouched end of a large segment costs no RSS. */
	if (!c->seg[seg] && !(c->seg[seg] = malloc(sizeof(struct tchunk) * (TC_SEG0 << seg))))
		return TB_NONE;
	c->used++;
	return id;
}

/* The chain head..tail back to the pool. */
static inline void tc_free_chain(struct tchunks *c, uint32_t head, uint32_t tail)
{
	tc_get(c, tail)->next = c->free;
	c->free = head;
}

static inline uint32_t tc_pos(uint32_t chunk, uint32_t slot)
{
	return chunk << TC_SHIFT | slot;
}

/* ---- The deadline -> bucket map ---------------------------------------- */

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
}

/* Make room for one more key (the heap's len counts the keys in it),
 * doubling at load 1/2. */
static inline int tb_map_reserve(struct tbuckets *s)
{
	uint32_t *old = s->map, old_size = s->map_bits ? 1U << s->map_bits : 0, bits, i;

	if ((s->heap.len + 1) * 2 <= old_size)
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
}

/* ---- Buckets ----------------------------------------------------------- */

/* A bucket struct from the free list or, at a new peak, from malloc. */
static inline struct tbucket *tb_alloc(struct tbuckets *s)
{
	struct tbucket *b = s->free, **byid;
	uint32_t n = s->nids;

	if (b) {
		s->free = b->next;
		return b;
	}
	/* byid is full when nids is 0, TB_MIN_IDS or a power of two above. */
	if (!n || (n >= TB_MIN_IDS && !(n & (n - 1)))) {
		if (n >= TB_NONE / 2)
			return NULL;
		byid = realloc(s->byid, (size_t)(n ? n * 2 : TB_MIN_IDS) * sizeof(*byid));
		if (!byid)
			return NULL;
		s->byid = byid;
	}
	b = malloc(sizeof(*b));
	if (!b)
		return NULL;
	*b = (struct tbucket){ .id = n, .heap_index = HEAP_NONE, .head = TB_NONE,
			       .tail = TB_NONE };
	s->byid[n] = b;
	s->nids++;
	return b;
}

/* To the free list, its chunks to the pool. */
static inline void tb_release(struct tbuckets *s, struct tbucket *b)
{
	if (b->head != TB_NONE)
		tc_free_chain(s->chunks, b->head, b->tail);
	b->head = b->tail = TB_NONE;
	b->tail_len = b->len = b->live = 0;
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

/* Slots in use in chunk `id` of b's line. */
static inline uint32_t tb_chunk_len(const struct tbucket *b, uint32_t id)
{
	return id == b->tail ? b->tail_len : TC_SLOTS;
}

/*
 * Squeeze the holes out, keeping start order. The write cursor never
 * passes the read cursor, so the line is rewritten in place; the chunks
 * left empty behind the last timer go back to the pool. b->live > 0.
 */
static inline void tb_compact(struct tbuckets *s, struct tbucket *b)
{
	uint32_t rid, wid = b->head, wi = 0, i, n, rest;
	struct tchunk *r, *w = tc_get(s->chunks, wid);
	ringo_timer_t *t;

	for (rid = b->head; rid != TB_NONE; rid = r->next) {
		r = tc_get(s->chunks, rid);
		n = tb_chunk_len(b, rid);
		for (i = 0; i < n; i++) {
			if (!(t = r->slot[i]))
				continue;
			if (wi == TC_SLOTS) {
				wid = w->next;
				w = tc_get(s->chunks, wid);
				wi = 0;
			}
			w->slot[wi] = t;
			TB_POS(t) = tc_pos(wid, wi++);
		}
	}
	rest = w->next;
	if (rest != TB_NONE && wid != b->tail)
		tc_free_chain(s->chunks, rest, b->tail);
	w->next = TB_NONE;
	b->tail = wid;
	b->tail_len = wi;
	b->len = b->live;
}

/* Append `t` to the line of `deadline`. 0 or -ENOMEM (nothing changed). */
static inline int tb_insert(struct tbuckets *s, ringo_timer_t *t, uint64_t deadline)
{
	struct tbucket *b = tb_get(s, deadline);
	struct tchunk *c;
	uint32_t id;

	if (!b)
		return -ENOMEM;
	if (b->tail != TB_NONE && b->tail_len < TC_SLOTS) {
		c = tc_get(s->chunks, b->tail);
	} else {
		id = tc_alloc(s);
		if (id == TB_NONE) {
			if (!b->live) {
				tb_unqueue(s, b);
				tb_release(s, b);
			}
			return -ENOMEM;
		}
		c = tc_get(s->chunks, id);
		c->next = TB_NONE;
		c->bucket = b->id;
		if (b->tail == TB_NONE)
			b->head = id;
		else
			tc_get(s->chunks, b->tail)->next = id;
		b->tail = id;
		b->tail_len = 0;
	}
	c->slot[b->tail_len] = t;
	TB_POS(t) = tc_pos(b->tail, b->tail_len++);
	b->len++;
	b->live++;
	return 0;
}

/* Take `t` out of its bucket, if it is in one. */
static inline void tb_remove(struct tbuckets *s, ringo_timer_t *t)
{
	struct tchunk *c;
	struct tbucket *b;
	uint32_t id;

	if (TB_POS(t) == TB_NONE)
		return;
	id = TB_POS(t) >> TC_SHIFT;
	c = tc_get(s->chunks, id);
	b = s->byid[c->bucket];
	c->slot[TB_POS(t) & (TC_SLOTS - 1)] = NULL;
	b->live--;
	TB_POS(t) = TB_NONE;
	/* Detached: the pass firing it walks the line and releases it. */
	if (b->heap_index == HEAP_NONE)
		return;
	if (!b->live) {
		tb_unqueue(s, b);
		tb_release(s, b);
		return;
	}
	if (id == b->tail) {
		while (b->tail_len && !c->slot[b->tail_len - 1]) {
			b->tail_len--;
			b->len--;
		}
	}
	if (b->len - b->live >= TB_COMPACT_MIN && b->len - b->live > b->live)
		tb_compact(s, b);
}

/* Take the timer at `slot` of chunk `c` out of detached bucket b, to fire it. */
static inline ringo_timer_t *tb_take(struct tbucket *b, struct tchunk *c, uint32_t slot)
{
	ringo_timer_t *t = c->slot[slot];

	if (t) {
		c->slot[slot] = NULL;
		b->live--;
		TB_POS(t) = TB_NONE;
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
	return s->byid[tc_get(s->chunks, TB_POS(t) >> TC_SHIFT)->bucket]->deadline;
}

static inline void tb_free_all(struct tbuckets *s)
{
	uint32_t i;

	for (i = 0; i < s->nids; i++)
		free(s->byid[i]);
	if (s->chunks)
		for (i = 0; i < TC_MAX_SEGS; i++)
			free(s->chunks->seg[i]);
	free(s->chunks);
	free(s->byid);
	free(s->map);
	heap_free(&s->heap);
	*s = (struct tbuckets){ 0 };
}

#endif
