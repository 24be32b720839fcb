/*
 * store_codec — see store_codec.h for the format.
 *
 * Why XOR with the previous value of the same metric: telemetry changes
 * slowly, so the sign, exponent and top mantissa bits repeat and the XOR
 * has zero bytes at the top; values read as float32 or small integers
 * have zero bytes at the bottom too. A constant reading costs 2 bytes
 * (time and control), a changing float32 reading 4-6, against 16 for the
 * plain (ts, value) pair. In an 'L' blob the samples of a batch belong to
 * many metrics, so "the previous value of the same metric" is looked up in
 * a small hash map from metric id to bits.
 */
#include "store/store_codec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "lib/vec.h"

#define KIND_LOG 'L'
#define KIND_CHUNK 'C'
#define CTRL_SAME 0x00
#define CTRL_FAILED 0xFF

/* ---- previous value per metric ---------------------------------------- */

struct prev_slot {
    int64_t id; /* -1: empty */
    uint64_t bits;
};

struct prev_map {
    struct prev_slot *slots;
    size_t mask;
};

static int prev_init(struct prev_map *m, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    m->slots = malloc(cap * sizeof *m->slots);
    if (!m->slots)
        return -1;
    for (size_t i = 0; i < cap; i++)
        m->slots[i].id = -1;
    m->mask = cap - 1;
    return 0;
}

/* The slot of id (created with bits 0 when new). The map holds at most n
 * ids in 2n slots, so a free slot is always found. */
static struct prev_slot *prev_get(struct prev_map *m, int64_t id)
{
    uint64_t h = (uint64_t)id * 0x9E3779B97F4A7C15ULL;
    for (size_t i = (size_t)(h >> 32) & m->mask;; i = (i + 1) & m->mask) {
        if (m->slots[i].id == id)
            return &m->slots[i];
        if (m->slots[i].id == -1) {
            m->slots[i] = (struct prev_slot){.id = id, .bits = 0};
            return &m->slots[i];
        }
    }
}

/* ---- bytes ------------------------------------------------------------ */

struct out {
    uint8_t *buf;
    size_t len, cap;
};

static int put_byte(struct out *o, uint8_t b)
{
    if (vec_reserve(o->buf, o->cap, o->len + 1) < 0)
        return -1;
    o->buf[o->len++] = b;
    return 0;
}

static int put_varint(struct out *o, uint64_t v)
{
    do {
        uint8_t b = v & 0x7f;
        v >>= 7;
        if (put_byte(o, (uint8_t)(b | (v ? 0x80 : 0))) < 0)
            return -1;
    } while (v);
    return 0;
}

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

struct in {
    const uint8_t *p, *end;
};

static int get_varint(struct in *in, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (in->p == in->end)
            return -1;
        uint8_t b = *in->p++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1; /* more than 10 bytes */
}

static uint64_t dbits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static double bitsd(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* ---- encode ----------------------------------------------------------- */

static int put_value(struct out *o, uint64_t *prev, double value)
{
    if (isnan(value))
        return put_byte(o, CTRL_FAILED);
    uint64_t bits = dbits(value);
    uint64_t x = bits ^ *prev;
    *prev = bits;
    if (x == 0)
        return put_byte(o, CTRL_SAME);
    int lz = __builtin_clzll(x) / 8, tz = __builtin_ctzll(x) / 8;
    int mid = 8 - lz - tz;
    if (put_byte(o, (uint8_t)(lz << 4 | mid)) < 0)
        return -1;
    for (int i = mid - 1; i >= 0; i--)
        if (put_byte(o, (uint8_t)(x >> (8 * (tz + i)))) < 0)
            return -1;
    return 0;
}

int store_codec_encode(const struct store_rec *recs, size_t n, bool single, uint8_t **out,
                       size_t *len)
{
    struct out o = {0};
    struct prev_map map = {0};
    uint64_t chunk_prev = 0;
    *out = NULL;
    *len = 0;
    if (!single && prev_init(&map, n) < 0)
        return -1;
    if (put_byte(&o, single ? KIND_CHUNK : KIND_LOG) < 0 || put_varint(&o, n) < 0)
        goto fail;
    if (single && put_varint(&o, n ? (uint64_t)recs[0].metric_id : 0) < 0)
        goto fail;
    int64_t prev_ts = 0, prev_delta = 0;
    for (size_t i = 0; i < n; i++) {
        const struct store_rec *r = &recs[i];
        if (!single && put_varint(&o, (uint64_t)r->metric_id) < 0)
            goto fail;
        /* Wrapping arithmetic: any two int64 times round-trip. */
        int64_t delta = (int64_t)((uint64_t)r->ts_ms - (uint64_t)prev_ts);
        if (put_varint(&o, zigzag((int64_t)((uint64_t)delta - (uint64_t)prev_delta))) < 0)
            goto fail;
        prev_ts = r->ts_ms;
        prev_delta = delta;
        uint64_t *prev = single ? &chunk_prev : &prev_get(&map, r->metric_id)->bits;
        if (put_value(&o, prev, r->value) < 0)
            goto fail;
    }
    free(map.slots);
    *out = o.buf;
    *len = o.len;
    return 0;
fail:
    free(map.slots);
    free(o.buf);
    return -1;
}

/* ---- decode ----------------------------------------------------------- */

/* Reads one value's bytes; *x gets the XOR (0 for "same"), *failed says
 * whether it was a failed read. */
static int get_value(struct in *in, uint64_t *x, bool *failed)
{
    if (in->p == in->end)
        return -1;
    uint8_t ctrl = *in->p++;
    *failed = ctrl == CTRL_FAILED;
    *x = 0;
    if (ctrl == CTRL_SAME || ctrl == CTRL_FAILED)
        return 0;
    int lz = ctrl >> 4, mid = ctrl & 15;
    if (mid == 0 || lz + mid > 8 || in->end - in->p < mid)
        return -1;
    uint64_t v = 0;
    for (int i = 0; i < mid; i++)
        v = v << 8 | *in->p++;
    *x = v << (8 * (8 - lz - mid));
    return 0;
}

int store_codec_decode(const uint8_t *data, size_t len, int64_t only_metric,
                       struct store_rec **recs, size_t *n, size_t *cap, char *err, size_t errlen)
{
    struct in in = {data, data + len};
    size_t n0 = *n;
    struct prev_map map = {0};
    uint64_t count = 0, chunk_id = 0, chunk_prev = 0;
    const char *why = "truncated";
    if (len == 0 || (data[0] != KIND_LOG && data[0] != KIND_CHUNK)) {
        why = "unknown kind";
        goto bad;
    }
    bool single = data[0] == KIND_CHUNK;
    in.p++;
    if (get_varint(&in, &count) < 0 || (single && get_varint(&in, &chunk_id) < 0))
        goto bad;
    /* Every sample takes at least 2 bytes: a count the blob cannot hold
     * is corrupt, and must not size an allocation. */
    if (count > (uint64_t)(in.end - in.p) / 2) {
        why = "count larger than the data";
        goto bad;
    }
    if (single && only_metric >= 0 && (int64_t)chunk_id != only_metric)
        return 0;
    if (!single && only_metric < 0 && prev_init(&map, (size_t)count) < 0) {
        why = "out of memory";
        goto bad;
    }
    int64_t prev_ts = 0, prev_delta = 0;
    uint64_t only_prev = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t id = chunk_id, dod, x;
        bool failed;
        if ((!single && get_varint(&in, &id) < 0) || get_varint(&in, &dod) < 0 ||
            get_value(&in, &x, &failed) < 0)
            goto bad;
        int64_t delta = (int64_t)((uint64_t)prev_delta + (uint64_t)unzigzag(dod));
        int64_t ts = (int64_t)((uint64_t)prev_ts + (uint64_t)delta);
        prev_ts = ts;
        prev_delta = delta;
        uint64_t *prev;
        if (single)
            prev = &chunk_prev;
        else if (only_metric >= 0)
            prev = (int64_t)id == only_metric ? &only_prev : NULL;
        else
            prev = &prev_get(&map, (int64_t)id)->bits;
        if (!prev)
            continue;
        if (!failed)
            *prev ^= x;
        if (vec_reserve(*recs, *cap, *n + 1) < 0) {
            why = "out of memory";
            goto bad;
        }
        (*recs)[(*n)++] = (struct store_rec){
            .metric_id = (int64_t)id, .ts_ms = ts, .value = failed ? NAN : bitsd(*prev)};
    }
    if (in.p != in.end) {
        why = "bytes left over";
        goto bad;
    }
    free(map.slots);
    return 0;
bad:
    free(map.slots);
    *n = n0;
    return errf(err, errlen, "bad sample blob (%zu bytes): %s", len, why);
}

/* ---- rollup packs ------------------------------------------------------ */

#define KIND_PACK 'R'

/* A pack's value is XORed with the previous one of its field, and a
 * 4-bit code says which bytes of the XOR are written: code = 4 * i + j
 * drops PACK_LZ[i] zero bytes at the top and PACK_TZ[j] at the bottom.
 * Coarser than a sample's control byte (a byte or two more now and then)
 * but half its size: noisy float32 readings XOR to 2-3 zero bytes at the
 * top and 3 at the bottom, whole numbers to 5-6 at the bottom. */
static const int PACK_LZ[4] = {0, 1, 2, 3};
static const int PACK_TZ[4] = {0, 2, 3, 5};

/* The code writing the fewest bytes of x (not 0). */
static int pack_code(uint64_t x)
{
    int lz = __builtin_clzll(x) / 8, tz = __builtin_ctzll(x) / 8, best = 0;
    for (int c = 1; c < 16; c++) {
        int l = PACK_LZ[c >> 2], t = PACK_TZ[c & 3];
        if (l <= lz && t <= tz && l + t > PACK_LZ[best >> 2] + PACK_TZ[best & 3])
            best = c;
    }
    return best;
}

/* Wrapping difference and sum: any two int64 round-trip. */
static int64_t wsub(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

static int64_t wadd(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

int store_codec_pack(const struct store_pack_roll *rolls, size_t n, int64_t base, int64_t width,
                     unsigned slots, uint8_t **out, size_t *len, char *err, size_t errlen)
{
    struct out o = {0};
    *out = NULL;
    *len = 0;
    if (slots == 0 || slots > STORE_PACK_SLOTS_MAX || width <= 0 || n == 0 || n > slots)
        return errf(err, errlen, "rollup pack: %zu rollups in %u slots", n, slots);
    uint64_t mask = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t off = wsub(rolls[i].bucket, base);
        if (off < 0 || off % width != 0 || off / width >= (int64_t)slots || rolls[i].n < 1 ||
            (mask >> (off / width)) != 0)
            return errf(err, errlen, "rollup pack: rollup %zu (bucket %lld, n %lld) out of order",
                        i, (long long)rolls[i].bucket, (long long)rolls[i].n);
        mask |= (uint64_t)1 << (off / width);
    }
    if (put_byte(&o, KIND_PACK) < 0 || put_varint(&o, mask) < 0)
        goto oom;
    int64_t prev_n = 0, prev_first = 0, prev_span = 0;
    uint64_t prev[5] = {0};
    for (size_t i = 0; i < n; i++) {
        const struct store_pack_roll *r = &rolls[i];
        int64_t first = wsub(r->first_ts, r->bucket), span = wsub(r->last_ts, r->first_ts);
        double v[5] = {r->min, r->max, r->sum, r->first, r->last};
        /* Bit k of the head: field k repeats the previous rollup's. */
        uint8_t head =
            (uint8_t)((r->n == prev_n) | (first == prev_first) << 1 | (span == prev_span) << 2);
        for (int k = 0; k < 5; k++)
            head |= (uint8_t)((dbits(v[k]) == prev[k]) << (3 + k));
        if (put_byte(&o, head) < 0 || (!(head & 1) && put_varint(&o, (uint64_t)r->n) < 0) ||
            (!(head & 2) && put_varint(&o, zigzag(wsub(first, prev_first))) < 0) ||
            (!(head & 4) && put_varint(&o, zigzag(wsub(span, prev_span))) < 0))
            goto oom;
        /* The codes of the fields written, two to a byte, then their
         * bytes. */
        uint64_t x[5];
        int code[5], nc = 0;
        for (int k = 0; k < 5; k++) {
            if (head >> (3 + k) & 1)
                continue;
            x[nc] = dbits(v[k]) ^ prev[k];
            code[nc] = pack_code(x[nc]);
            nc++;
            prev[k] = dbits(v[k]);
        }
        for (int k = 0; k < nc; k += 2)
            if (put_byte(&o, (uint8_t)(code[k] << 4 | (k + 1 < nc ? code[k + 1] : 0))) < 0)
                goto oom;
        for (int k = 0; k < nc; k++) {
            int tz = PACK_TZ[code[k] & 3], mid = 8 - PACK_LZ[code[k] >> 2] - tz;
            for (int b = mid - 1; b >= 0; b--)
                if (put_byte(&o, (uint8_t)(x[k] >> (8 * (tz + b)))) < 0)
                    goto oom;
        }
        prev_n = r->n;
        prev_first = first;
        prev_span = span;
    }
    *out = o.buf;
    *len = o.len;
    return 0;
oom:
    free(o.buf);
    return errf(err, errlen, "rollup pack: out of memory");
}

int store_codec_unpack(const uint8_t *data, size_t len, int64_t base, int64_t width, unsigned slots,
                       struct store_pack_roll out[STORE_PACK_SLOTS_MAX], size_t *n, char *err,
                       size_t errlen)
{
    struct in in = {data, data + len};
    const char *why = "truncated";
    uint64_t mask = 0;
    *n = 0;
    if (slots == 0 || slots > STORE_PACK_SLOTS_MAX || width <= 0) {
        why = "bad slot layout";
        goto bad;
    }
    if (len == 0 || data[0] != KIND_PACK) {
        why = "unknown kind";
        goto bad;
    }
    in.p++;
    if (get_varint(&in, &mask) < 0)
        goto bad;
    if (mask == 0 || (slots < 64 && (mask >> slots) != 0)) {
        why = "slot out of range";
        goto bad;
    }
    uint64_t prev_n = 0;
    int64_t prev_first = 0, prev_span = 0;
    uint64_t prev[5] = {0};
    for (unsigned k = 0; k < slots; k++) {
        if (!((mask >> k) & 1))
            continue;
        struct store_pack_roll *r = &out[*n];
        uint64_t cnt = prev_n, dfirst = 0, dspan = 0;
        if (in.p == in.end)
            goto bad;
        uint8_t head = *in.p++;
        if ((!(head & 1) && get_varint(&in, &cnt) < 0) ||
            (!(head & 2) && get_varint(&in, &dfirst) < 0) ||
            (!(head & 4) && get_varint(&in, &dspan) < 0))
            goto bad;
        if (cnt == 0 || cnt > (uint64_t)INT64_MAX) {
            why = "bad count";
            goto bad;
        }
        int64_t first = wadd(prev_first, unzigzag(dfirst)), span = wadd(prev_span, unzigzag(dspan));
        r->bucket = wadd(base, (int64_t)((uint64_t)k * (uint64_t)width));
        r->n = (int64_t)cnt;
        r->first_ts = wadd(r->bucket, first);
        r->last_ts = wadd(r->first_ts, span);
        int code[5], nc = 0;
        for (int f = 0; f < 5; f++)
            if (!(head >> (3 + f) & 1))
                code[nc++] = 0;
        if (in.end - in.p < (nc + 1) / 2)
            goto bad;
        for (int f = 0; f < nc; f += 2, in.p++) {
            code[f] = *in.p >> 4;
            if (f + 1 < nc)
                code[f + 1] = *in.p & 15;
            else if (*in.p & 15) {
                why = "bad value";
                goto bad;
            }
        }
        double v[5];
        for (int f = 0, c = 0; f < 5; f++) {
            if (head >> (3 + f) & 1) {
                v[f] = bitsd(prev[f]);
                continue;
            }
            int tz = PACK_TZ[code[c] & 3], mid = 8 - PACK_LZ[code[c] >> 2] - tz;
            c++;
            if (mid == 0 || in.end - in.p < mid) {
                why = mid == 0 ? "bad value" : "truncated";
                goto bad;
            }
            uint64_t xv = 0;
            for (int b = 0; b < mid; b++)
                xv = xv << 8 | *in.p++;
            prev[f] ^= xv << (8 * tz);
            v[f] = bitsd(prev[f]);
        }
        r->min = v[0];
        r->max = v[1];
        r->sum = v[2];
        r->first = v[3];
        r->last = v[4];
        prev_n = cnt;
        prev_first = first;
        prev_span = span;
        (*n)++;
    }
    if (in.p != in.end) {
        why = "bytes left over";
        goto bad;
    }
    return 0;
bad:
    *n = 0;
    return errf(err, errlen, "bad rollup pack (%zu bytes): %s", len, why);
}
