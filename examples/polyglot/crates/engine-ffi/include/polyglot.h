/* C interface of the polyglot engine. */
#ifndef POLYGLOT_H
#define POLYGLOT_H

#include <stdint.h>

#define POLYGLOT_VERSION "1.2.3"

#ifdef __cplusplus
extern "C" {
#endif

/* Static, NUL-terminated library version; equals POLYGLOT_VERSION. */
const char *polyglot_version(void);

/* Adds two numbers, saturating on overflow. */
int64_t polyglot_add(int64_t a, int64_t b);

#ifdef __cplusplus
}
#endif

#endif /* POLYGLOT_H */
