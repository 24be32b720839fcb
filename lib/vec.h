/*
 * vec — the one way floe grows an array.
 *
 * An array is a pointer, a count and a capacity in the caller's struct;
 * vec_reserve makes room for `need` elements, doubling the capacity (at
 * least 8) so that n pushes cost O(n). Element sizes and counts are
 * checked for overflow.
 *
 * Failure policy, the same everywhere:
 *   vec_reserve          returns 0, or -1 when memory or size_t runs out,
 *                        leaving the array and its capacity as they were;
 *                        the caller reports "out of memory" on its own
 *                        error path.
 *   vec_reserve_or_abort aborts instead. Only in modules whose header says
 *                        they abort when out of memory (configuration,
 *                        decisions, replay traces: built where no error
 *                        path exists, the same rule as util_strdup).
 *   vec_resize_or_abort  sets the capacity to exactly `count` (arrays that
 *                        grow in step with another, such as a trace's
 *                        per-block summaries).
 *
 *   struct reading *readings; size_t n, cap;
 *   if (vec_reserve(readings, cap, n + 1) < 0)
 *       return errf(err, errlen, "out of memory");
 *   readings[n++] = r;
 */
#ifndef FLOE_VEC_H
#define FLOE_VEC_H

#include <stddef.h>

/* items_ptr points at the caller's array pointer (any object pointer
 * type); *cap is its capacity in elements. */
int vec_reserve_bytes(void *items_ptr, size_t *cap, size_t need, size_t elem_size);
void vec_reserve_bytes_or_abort(void *items_ptr, size_t *cap, size_t need, size_t elem_size);
void vec_resize_bytes_or_abort(void *items_ptr, size_t count, size_t elem_size);

#define vec_reserve(items, cap, need) vec_reserve_bytes(&(items), &(cap), (need), sizeof *(items))
#define vec_reserve_or_abort(items, cap, need)                                                    \
    vec_reserve_bytes_or_abort(&(items), &(cap), (need), sizeof *(items))
#define vec_resize_or_abort(items, count) vec_resize_bytes_or_abort(&(items), (count), sizeof *(items))

#endif
