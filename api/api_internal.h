/*
 * api_internal — what api.c (the routes) tells api_http.c (the transport)
 * beyond the response itself. Private to the api folder.
 */
#ifndef FLOE_API_INTERNAL_H
#define FLOE_API_INTERNAL_H

#include <stddef.h>

/* Writes the methods routed for path ("GET, HEAD") into buf (size n);
 * buf is "" when no route has that path. */
void api_allowed_methods(const char *path, char *buf, size_t n);

#endif
