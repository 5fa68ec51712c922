/* hex.h: lowercase hex text form of identifiers. */
#ifndef SSS_SUPPORT_HEX_H
#define SSS_SUPPORT_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*len lowercase hex digits and a NUL into out (2*len+1 bytes). */
void sss_hex_encode(const uint8_t *bytes, size_t len, char *out);

/* Parses exactly 2*len hex digits (either case) from text into bytes.
 * Returns 0, or -1 when text has another length or a non-hex character. */
int sss_hex_decode(const char *text, uint8_t *bytes, size_t len);

#endif
