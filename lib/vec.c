/*
 * vec — see vec.h. The caller's array pointer is read and written through
 * memcpy, so one function serves every element type without casting a
 * T ** to void ** (which C does not allow to alias).
 */
#include "lib/vec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int vec_realloc(void *items_ptr, size_t count, size_t elem_size)
{
    if (elem_size && count > SIZE_MAX / elem_size)
        return -1;
    void *items;
    memcpy(&items, items_ptr, sizeof items);
    void *grown = realloc(items, (count ? count : 1) * elem_size);
    if (!grown)
        return -1;
    memcpy(items_ptr, &grown, sizeof grown);
    return 0;
}

int vec_reserve_bytes(void *items_ptr, size_t *cap, size_t need, size_t elem_size)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap < 4 ? 8 : *cap;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return -1;
        ncap *= 2;
    }
    if (vec_realloc(items_ptr, ncap, elem_size) < 0)
        return -1;
    *cap = ncap;
    return 0;
}

void vec_reserve_bytes_or_abort(void *items_ptr, size_t *cap, size_t need, size_t elem_size)
{
    if (vec_reserve_bytes(items_ptr, cap, need, elem_size) < 0)
        abort();
}

void vec_resize_bytes_or_abort(void *items_ptr, size_t count, size_t elem_size)
{
    if (vec_realloc(items_ptr, count, elem_size) < 0)
        abort();
}
