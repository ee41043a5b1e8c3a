/* The frames' payloads (codec.h). */
#define _GNU_SOURCE
#include "codec.h"

#include <stdlib.h>
#include <string.h>

void out_bytes(struct out *o, const void *p, size_t n) {
  if (o->len + n > o->cap) {
    o->cap = (o->len + n) * 2 + 64;
    o->data = realloc(o->data, o->cap);
    if (!o->data) abort();
  }
  memcpy(o->data + o->len, p, n);
  o->len += n;
}
void out_u32(struct out *o, uint32_t v) {
  unsigned char b[4] = {v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >> 24) & 0xff};
  out_bytes(o, b, 4);
}
void out_str(struct out *o, const char *s, size_t n) {
  out_u32(o, (uint32_t)n);
  out_bytes(o, s, n);
}
void out_begin(struct out *o, unsigned type) {
  o->len = 0;
  out_u32(o, 0);
  unsigned char t = (unsigned char)type;
  out_bytes(o, &t, 1);
}

uint32_t in_u32(struct in *in) {
  if (in->end - in->p < 4) {
    in->bad = 1;
    return 0;
  }
  uint32_t v = in->p[0] | (in->p[1] << 8) | (in->p[2] << 16) | ((uint32_t)in->p[3] << 24);
  in->p += 4;
  return v;
}

uint64_t in_u64(struct in *in) {
  uint64_t lo = in_u32(in), hi = in_u32(in);
  return lo | (hi << 32);
}

char *in_str(struct in *in) {
  uint32_t n = in_u32(in);
  if (in->bad || (size_t)(in->end - in->p) < n) {
    in->bad = 1;
    return strdup("");
  }
  char *s = malloc(n + 1);
  memcpy(s, in->p, n);
  s[n] = 0;
  in->p += n;
  return s;
}

char **in_strv(struct in *in, uint32_t *count) {
  uint32_t n = in_u32(in);
  if (in->bad || n > 1u << 20) {
    in->bad = 1;
    n = 0;
  }
  char **v = calloc(n + 1, sizeof *v);
  for (uint32_t i = 0; i < n; i++) v[i] = in_str(in);
  *count = n;
  return v;
}

void free_strv(char **v) {
  for (char **p = v; p && *p; p++) free(*p);
  free(v);
}

char **copy_strv(char **v) {
  size_t n = 0;
  while (v && v[n]) n++;
  char **out = calloc(n + 1, sizeof *out);
  for (size_t i = 0; i < n; i++) out[i] = strdup(v[i]);
  return out;
}
