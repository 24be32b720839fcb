/*
 * sim_sha256 — SHA-256 (FIPS 180-4) of a byte string, for the one place
 * floe-sim must compute a name exactly as Velero does: a name longer than
 * a label value may be is cut to 57 characters and the first 6 hex digits
 * of its SHA-256 appended (Velero's label.GetValidName).
 */
#ifndef FLOE_SIM_SHA256_H
#define FLOE_SIM_SHA256_H

#include <stddef.h>
#include <stdint.h>

void sim_sha256(const void *data, size_t len, uint8_t out[32]);

/* Velero's label.GetValidName: s itself when at most 63 characters, else
 * its first 57 and 6 hex digits of SHA-256(s). out needs 64 bytes. */
void sim_velero_label_name(const char *s, char out[64]);

#endif
