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

#endif
