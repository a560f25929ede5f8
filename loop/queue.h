/* SPDX-License-Identifier: MIT */
/*
 * Intrusive circular doubly-linked list over struct ringo_queue. An empty
 * queue points at itself; a node that is in no queue also points at itself
 * (after queue_init or queue_remove), so "is it queued?" is one compare.
 */
#ifndef RINGO_QUEUE_H
#define RINGO_QUEUE_H

#include <stddef.h>

#include "ringo.h"

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void queue_init(struct ringo_queue *q)
{
	q->next = q;
	q->prev = q;
}

static inline int queue_empty(const struct ringo_queue *q)
{
	return q->next == q;
}

/* A node that queue_init'ed or removed is in no queue. */
static inline int queue_linked(const struct ringo_queue *n)
{
	return n->next != n && n->next != NULL;
}

static inline void queue_insert_tail(struct ringo_queue *q, struct ringo_queue *n)
{
	n->next = q;
	n->prev = q->prev;
	q->prev->next = n;
	q->prev = n;
}

static inline void queue_remove(struct ringo_queue *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	queue_init(n);
}

static inline struct ringo_queue *queue_head(const struct ringo_queue *q)
{
	return q->next;
}

/* Move everything in `from` to the empty `to`, leaving `from` empty. */
static inline void queue_move(struct ringo_queue *from, struct ringo_queue *to)
{
	if (queue_empty(from)) {
		queue_init(to);
		return;
	}
	to->next = from->next;
	to->prev = from->prev;
	to->next->prev = to;
	to->prev->next = to;
	queue_init(from);
}

#endif
