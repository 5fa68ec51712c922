/* hex.c: the text form of identifiers. */
#include "hex.h"

#include <criterion/criterion.h>
#include <string.h>

Test(hex, encode_is_lowercase_and_nul_terminated) {
  const uint8_t bytes[] = {0x00, 0x01, 0xab, 0xcd, 0xef, 0xff, 0x10};
  char out[2 * sizeof bytes + 2];
  memset(out, 'x', sizeof out);
  sss_hex_encode(bytes, sizeof bytes, out);
  cr_assert_str_eq(out, "0001abcdefff10");
  cr_assert_eq(out[2 * sizeof bytes + 1], 'x', "wrote past the NUL");
}

Test(hex, encode_of_nothing_is_empty) {
  char out[1] = {'x'};
  sss_hex_encode(NULL, 0, out);
  cr_assert_str_eq(out, "");
}

Test(hex, decode_accepts_either_case) {
  uint8_t b[4];
  cr_assert_eq(sss_hex_decode("DeadBEEF", b, 4), 0);
  const uint8_t want[] = {0xde, 0xad, 0xbe, 0xef};
  cr_assert_arr_eq(b, want, 4);
}

Test(hex, decode_rejects_wrong_length) {
  uint8_t b[4] = {1, 2, 3, 4};
  cr_assert_eq(sss_hex_decode("deadbee", b, 4), -1);
  cr_assert_eq(sss_hex_decode("deadbeef00", b, 4), -1);
  cr_assert_eq(sss_hex_decode("", b, 4), -1);
  cr_assert_eq(sss_hex_decode(NULL, b, 4), -1);
}

Test(hex, decode_rejects_non_hex) {
  uint8_t b[4];
  cr_assert_eq(sss_hex_decode("deadbeeg", b, 4), -1);
  cr_assert_eq(sss_hex_decode("dea beef", b, 4), -1);
  cr_assert_eq(sss_hex_decode("0x0dbeef", b, 4), -1);
}

Test(hex, every_byte_round_trips) {
  uint8_t all[256], back[256];
  for (int i = 0; i < 256; i++)
    all[i] = (uint8_t)i;
  char text[513];
  sss_hex_encode(all, 256, text);
  cr_assert_eq(strlen(text), 512);
  cr_assert_eq(sss_hex_decode(text, back, 256), 0);
  cr_assert_arr_eq(all, back, 256);
}
