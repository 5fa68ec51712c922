/* The atomic share-directory writer (host-sim/share_dir.c). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "share_dir.h"

static char root[256];

static void make_root(void) {
  snprintf(root, sizeof root, "%s/hs-share-XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  cr_assert_not_null(mkdtemp(root));
}
static void drop_root(void) {
  hs_remove_tree(root);
}

static int produce_char(void *ctx, uint64_t off, void *buf, size_t len) {
  memset(buf, *(char *)ctx + (int)(off % 3), len);
  return 0;
}
static int produce_fail(void *ctx, uint64_t off, void *buf, size_t len) {
  (void)ctx;
  memset(buf, 'x', len);
  return off > 0 ? -1 : 0; /* aborts at the second chunk */
}

static size_t count_entries(const char *dir) {
  DIR *d = opendir(dir);
  cr_assert_not_null(d, "cannot open %s", dir);
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

static long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

TestSuite(share_dir, .init = make_root, .fini = drop_root);

Test(share_dir, writes_nested_path_with_exact_content_and_no_temp_left) {
  char err[HS_ERR_SIZE] = "", path[512], dir[512];
  char c = 'a';
  cr_assert_eq(
      hs_share_write(root, "v2/storage/abc", 600000, produce_char, &c, err), 0,
      "%s", err);
  snprintf(path, sizeof path, "%s/v2/storage/abc", root);
  snprintf(dir, sizeof dir, "%s/v2/storage", root);
  cr_assert_eq(file_size(path), 600000);
  cr_assert_eq(count_entries(dir), 1, "a temp file was left in %s", dir);
  FILE *f = fopen(path, "rb");
  uint8_t buf[4];
  fseek(f, 300001, SEEK_SET);
  cr_assert_eq(fread(buf, 1, 1, f), 1);
  fclose(f);
  /* chunk boundaries at 256 KiB: offset 300001 lies in the 2nd chunk */
  cr_assert_eq(buf[0], 'a' + (262144 % 3));
}

Test(share_dir, overwrite_replaces_the_whole_file) {
  char err[HS_ERR_SIZE], path[512], c = 'a';
  cr_assert_eq(hs_share_write(root, "f", 1000, produce_char, &c, err), 0);
  c = 'q';
  cr_assert_eq(hs_share_write(root, "f", 10, produce_char, &c, err), 0);
  snprintf(path, sizeof path, "%s/f", root);
  cr_assert_eq(file_size(path), 10);
  cr_assert_eq(count_entries(root), 1);
}

Test(share_dir, aborted_write_keeps_old_file_and_leaves_no_temp) {
  char err[HS_ERR_SIZE] = "", path[512], c = 'a';
  cr_assert_eq(hs_share_write(root, "f", 1000, produce_char, &c, err), 0);
  cr_assert_eq(hs_share_write(root, "f", 600000, produce_fail, NULL, err), -1);
  cr_assert(strstr(err, "aborted") != NULL, "err: %s", err);
  snprintf(path, sizeof path, "%s/f", root);
  cr_assert_eq(file_size(path), 1000, "the old file was damaged");
  cr_assert_eq(count_entries(root), 1, "a temp file was left behind");
}

Test(share_dir, root_that_is_a_file_fails_with_a_sentence) {
  char err[HS_ERR_SIZE] = "", file[512], c = 'a';
  snprintf(file, sizeof file, "%s/plain", root);
  FILE *f = fopen(file, "w");
  fclose(f);
  cr_assert_eq(hs_share_write(file, "v2/x", 10, produce_char, &c, err), -1);
  cr_assert(strstr(err, file) != NULL, "err does not name the path: %s", err);
}

Test(share_dir, remove_tree_removes_everything_and_accepts_missing) {
  char err[HS_ERR_SIZE], sub[512], c = 'a';
  cr_assert_eq(hs_share_write(root, "a/b/c/d", 10, produce_char, &c, err), 0);
  snprintf(sub, sizeof sub, "%s/a", root);
  cr_assert_eq(hs_remove_tree(sub), 0);
  cr_assert_eq(access(sub, F_OK), -1);
  cr_assert_eq(hs_remove_tree(sub), 0);
}
