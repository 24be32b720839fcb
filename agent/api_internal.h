/*
 * api_internal — what api.c (routing) tells api_http.c (transport) beyond
 * the response itself. Private to the api module: struct api_response has
 * no header list, and the Allow header of a 405 needs the route table.
 */
#ifndef FLOE_API_INTERNAL_H
#define FLOE_API_INTERNAL_H

#include <stddef.h>

/* Writes the methods routed for path ("GET, HEAD") into buf (size n);
 * buf is "" when no route has that path. */
void api_allowed_methods(const char *path, char *buf, size_t n);

#endif
