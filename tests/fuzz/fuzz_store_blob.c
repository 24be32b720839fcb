/*
 * Fuzz target for the store's blob decoders (store/store_codec.c): byte 0
 * picks the decoder, the rest is the blob. Sample blobs ('L'/'C') through
 * store_codec_decode, all metrics and one; rollup packs ('R') through
 * store_codec_unpack, and a pack that decodes must pack again and decode
 * to the same rollups bit for bit.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *blob = data + 1;
    size_t len = size - 1;
    char err[160];
    if (data[0] & 1) {
        struct store_rec *recs = NULL;
        size_t n = 0, cap = 0;
        (void)store_codec_decode(blob, len, -1, &recs, &n, &cap, err, sizeof err);
        n = 0;
        (void)store_codec_decode(blob, len, data[0] >> 1, &recs, &n, &cap, err, sizeof err);
        free(recs);
        return 0;
    }
    /* Bit 1: a day of hours (24 slots) instead of an hour of minutes. */
    unsigned slots = data[0] & 2 ? 24 : 60;
    int64_t width = data[0] & 2 ? 3600000 : 60000, base = (int64_t)(data[0] >> 2) * width * 64;
    struct store_pack_roll a[STORE_PACK_SLOTS_MAX], b[STORE_PACK_SLOTS_MAX];
    size_t na = 0, nb = 0;
    if (store_codec_unpack(blob, len, base, width, slots, a, &na, err, sizeof err) != 0)
        return 0;
    uint8_t *again = NULL;
    size_t alen = 0;
    if (store_codec_pack(a, na, base, width, slots, &again, &alen, err, sizeof err) != 0)
        abort(); /* what decodes must encode */
    if (store_codec_unpack(again, alen, base, width, slots, b, &nb, err, sizeof err) != 0 ||
        nb != na || memcmp(a, b, na * sizeof *a) != 0)
        abort();
    free(again);
    return 0;
}
