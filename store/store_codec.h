/*
 * store_codec — the compact byte encoding of telemetry samples that the
 * store keeps in BLOBs: one sample_log row per recorder batch (samples of
 * many metrics) and one raw_chunk row per metric per minute (samples of
 * one metric). Pure functions over memory: no SQLite, no clock.
 *
 * A blob is
 *   kind      1 byte: 'L' (several metrics) or 'C' (one metric)
 *   count     varint, the number of samples
 *   metric    varint, only in a 'C' blob: the metric id of every sample
 *   samples   count times:
 *     metric  varint, only in an 'L' blob
 *     ts      zigzag varint of the delta of deltas: (ts - prev_ts) -
 *             (prev_ts - prev_prev_ts) over the blob's samples in order
 *             (both start at 0), so a steady poll costs one byte
 *     value   one control byte, then 0-8 bytes:
 *             0x00  the same bits as the previous good value of this
 *                   metric in the blob (0.0 before the first);
 *             0xFF  a failed read (NaN; the previous value is unchanged);
 *             else  x = bits XOR previous bits has lz = ctrl >> 4 zero
 *                   bytes at the top, mid = ctrl & 15 meaningful bytes
 *                   (1..8, lz + mid <= 8) written big-endian, and the rest
 *                   zero bytes at the bottom.
 * Values are IEEE doubles bit for bit (no rounding); a sample's value NaN
 * always means a failed read.
 *
 * A rollup pack ('R') holds the rollups of one metric in up to 64 slots of
 * one bucket (the 60 minutes of an hour: rollup_minute_pack):
 *   kind      1 byte 'R'
 *   mask      varint, bit k set when slot k (bucket base + k * width) has
 *             a rollup; no bit at or above the slot count, not 0
 *   rollups   one per set bit, in slot order:
 *     head    1 byte: bit k set when field k below is the same as in the
 *             previous rollup (all 0 before the first) and left out
 *     n       varint, >= 1
 *     first   zigzag varint: (first_ts - slot start) minus the same of the
 *             previous rollup: exact milliseconds, and a steady poll
 *             leaves it out
 *     span    zigzag varint: (last_ts - first_ts) minus the previous one's
 *     codes   for the fields of bits 3-7 left in (min, max, sum, first,
 *             last, in that order), 4 bits each, two to a byte (high
 *             nibble first; an odd last one pads with 0): code 4i + j
 *             means the XOR of the value's bits with that field's in the
 *             previous rollup has LZ[i] = {0,1,2,3}[i] zero bytes at the
 *             top and TZ[j] = {0,2,3,5}[j] at the bottom (not all 8)
 *     bytes   then per such field the 8 - LZ - TZ middle bytes of the
 *             XOR, big-endian. Every bit pattern round-trips (a NaN or
 *             infinite sum too: NaN means nothing special here).
 * Times use wrapping arithmetic, so any int64 round-trips.
 */
#ifndef FLOE_STORE_CODEC_H
#define FLOE_STORE_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_rec {
    int64_t metric_id;
    int64_t ts_ms;
    double value; /* NaN: a failed read */
};

/* Encodes recs[0..n) in their order. single: every record is of metric
 * recs[0].metric_id (a 'C' blob; the caller guarantees it). *out is a new
 * buffer (caller frees), *len its length. Returns 0, or -1 out of memory. */
int store_codec_encode(const struct store_rec *recs, size_t n, bool single, uint8_t **out,
                       size_t *len);

/* Decodes a blob and appends its records, in blob order, to the growing
 * array *recs (length *n, capacity *cap; see lib/vec.h). only_metric >= 0
 * keeps the records of that metric only (the others are skipped without
 * decoding their values). Returns 0, or -1 with err filled when the blob
 * is malformed (truncated, an unknown kind or control byte, a count the
 * bytes cannot hold, bytes left over) or memory runs out; *n is then
 * back at its value on entry. */
int store_codec_decode(const uint8_t *data, size_t len, int64_t only_metric,
                       struct store_rec **recs, size_t *n, size_t *cap, char *err, size_t errlen);

/* One rollup of a pack: the fields of store_internal.h's store_roll plus
 * its bucket (the store converts; the codec knows no SQLite). */
struct store_pack_roll {
    int64_t bucket, n;
    double sum, min, max;
    int64_t first_ts, last_ts;
    double first, last;
};

#define STORE_PACK_SLOTS_MAX 64

/* Packs rolls[0..n) (buckets base + k * width with k < slots <= 64,
 * strictly increasing, every n >= 1) into a new buffer *out (caller
 * frees) of *len bytes. Returns 0, or -1 with err filled when the rolls
 * break those rules (nothing is written) or memory runs out. */
int store_codec_pack(const struct store_pack_roll *rolls, size_t n, int64_t base, int64_t width,
                     unsigned slots, uint8_t **out, size_t *len, char *err, size_t errlen);

/* Unpacks a rollup pack of bucket base into out[0..*n) (at most slots
 * entries, in slot order). Returns 0, or -1 with err filled when the blob
 * is malformed (truncated, another kind, a slot out of range, n = 0, a
 * control byte that is not one, bytes left over); *n is then 0. */
int store_codec_unpack(const uint8_t *data, size_t len, int64_t base, int64_t width, unsigned slots,
                       struct store_pack_roll out[STORE_PACK_SLOTS_MAX], size_t *n, char *err,
                       size_t errlen);

#endif
