/* Sharded checkpoints as transformers writes them.
 *
 * Goldens: tests/model/data/sharded/<model>/ holds model.safetensors.index.json and the header
 * of every shard that transformers 5.25's save_pretrained(max_shard_size="40KB") wrote for the
 * bf16 tiny models of ../shared/golden (tests/model/gen_sharded_golden.py). Here long1k loads
 * the same checkpoints, saves them with a 40,000-byte shard size, and must produce the same
 * file names, a byte-identical index, byte-identical shard headers, and as tensor data the
 * source checkpoint's bf16 bytes; the result must load back to identical parameters.
 *
 * With an argument DIR it also leaves qwen3_tiny saved that way in DIR (bf16) and DIR-f32
 * (float32), for tests/model/check_sharded_hf.py to load with transformers. */
#include <dirent.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "long1k/io.h"
#include "long1k/model.h"
#include "long1k/safetensors.h"

#define SHARD 40000

static const char *models[] = {"qwen2_tiny", "qwen3_tiny", "llama_tiny"};

static char *golden_file(const char *model, const char *name) {
  char *p = malloc(4096);
  snprintf(p, 4096, "%s/tests/model/data/sharded/%s/%s",
           getenv("LONG1K_SRC") ? getenv("LONG1K_SRC") : ".", model, name);
  return p;
}

/* Names of *.safetensors files in dir, sorted; returns the count. */
static int list_shards(const char *dir, char names[][64], int cap) {
  DIR *d = opendir(dir);
  int n = 0;
  if (!d) return -1;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strstr(e->d_name, ".safetensors") && !strstr(e->d_name, ".index.json") && n < cap)
      snprintf(names[n++], 64, "%s", e->d_name);
  closedir(d);
  qsort(names, n, 64, (int (*)(const void *, const void *))strcmp);
  return n;
}

/* Compares one saved shard with the golden header and the source checkpoint's bytes. */
static void check_shard(const char *model, const char *dir, const char *fname,
                        const l1k_safetensors *src) {
  char hdr_name[128];
  snprintf(hdr_name, sizeof hdr_name, "%s.header", fname);
  char *gp = golden_file(model, hdr_name), *op = l1k_path_join(dir, fname);
  size_t glen = 0, olen = 0;
  char *g = l1k_read_file(gp, &glen, NULL), *o = l1k_read_file(op, &olen, NULL);
  CHECK_MSG(g && o, "%s: missing %s or %s", model, gp, op);
  if (g && o) {
    CHECK_MSG(olen >= glen && memcmp(g, o, glen) == 0, "%s: header of %s differs from transformers'",
              model, fname);
    l1k_safetensors st;
    l1k_err err = {0};
    CHECK_MSG(l1k_st_open(&st, op, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < st.n; i++) {
      const l1k_st_tensor *s = l1k_st_find(src, st.t[i].name);
      CHECK_MSG(s && s->nbytes == st.t[i].nbytes && !memcmp(s->data, st.t[i].data, s->nbytes),
                "%s: %s: tensor %s differs from the source checkpoint", model, fname, st.t[i].name);
    }
    l1k_st_close(&st);
  }
  free(g);
  free(o);
  free(gp);
  free(op);
}

static void check_same_params(l1k_model *a, const char *dir) {
  l1k_err err = {0};
  l1k_model *b = l1k_model_load(dir, &err);
  CHECK_MSG(b != NULL, "load back %s: %s", dir, err.msg);
  if (!b) return;
  CHECK(l1k_model_num_params(a) == l1k_model_num_params(b));
  CHECK(!memcmp(l1k_model_params(a), l1k_model_params(b), l1k_model_num_params(a) * sizeof(float)));
  l1k_model_free(b);
}

static void check_model(const char *model, const char *tmp) {
  char src_dir[512], src_file[600], out[600];
  snprintf(src_dir, sizeof src_dir, "%s", shared_path("golden/models"));
  snprintf(src_dir + strlen(src_dir), sizeof src_dir - strlen(src_dir), "/%s/bf16", model);
  snprintf(src_file, sizeof src_file, "%s/model.safetensors", src_dir);
  snprintf(out, sizeof out, "%s/%s", tmp, model);
  l1k_err err = {0};
  l1k_model *m = l1k_model_load(src_dir, &err);
  CHECK_MSG(m != NULL, "%s", err.msg);
  if (!m) return;
  CHECK_MSG(l1k_model_save_sharded(m, out, "bf16", SHARD, &err) == 0, "%s", err.msg);
  /* the index, byte for byte */
  char *gi = golden_file(model, "model.safetensors.index.json");
  char *oi = l1k_path_join(out, "model.safetensors.index.json");
  char *g = l1k_read_file(gi, NULL, NULL), *o = l1k_read_file(oi, NULL, NULL);
  CHECK_MSG(g && o && !strcmp(g, o), "%s: index differs from transformers'\n--- ours\n%s", model,
            o ? o : "(none)");
  /* the same shard files */
  char names[32][64];
  int n = list_shards(out, names, 32);
  int ng = 0;
  for (int k = 1; k <= 32; k++) {
    char h[128];
    snprintf(h, sizeof h, "model-%05d-of-%05d.safetensors", k, n);
    char *p = golden_file(model, h);
    char hp[700];
    snprintf(hp, sizeof hp, "%s.header", p);
    ng += l1k_file_exists(hp);
    free(p);
  }
  CHECK_MSG(n > 1 && ng == n, "%s: %d shards written, transformers wrote %d", model, n, ng);
  l1k_safetensors src;
  CHECK_MSG(l1k_st_open(&src, src_file, &err) == 0, "%s", err.msg);
  for (int k = 0; k < n; k++) check_shard(model, out, names[k], &src);
  l1k_st_close(&src);
  check_same_params(m, out);
  free(gi);
  free(oi);
  free(g);
  free(o);
  l1k_model_free(m);
}

/* Resaving a sharded directory whole (and back) leaves no file of the earlier save. */
static void check_resave(const char *tmp) {
  char dir[600], p[700];
  snprintf(dir, sizeof dir, "%s/qwen2_tiny", tmp);
  l1k_err err = {0};
  l1k_model *m = l1k_model_load(dir, &err);
  CHECK_MSG(m != NULL, "%s", err.msg);
  if (!m) return;
  CHECK_MSG(l1k_model_save(m, dir, "f32", &err) == 0, "%s", err.msg);
  char names[32][64];
  int n = list_shards(dir, names, 32);
  CHECK_MSG(n == 1 && !strcmp(names[0], "model.safetensors"), "%d files after a whole save", n);
  snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
  CHECK(!l1k_file_exists(p));
  check_same_params(m, dir);
  /* f32 with shards of 100,000 bytes: the f32 embedding (131,072 bytes) alone, then groups */
  CHECK_MSG(l1k_model_save_sharded(m, dir, "f32", 100000, &err) == 0, "%s", err.msg);
  n = list_shards(dir, names, 32);
  CHECK_MSG(n > 1 && !strcmp(names[0], "model-00001-of-00005.safetensors"), "%d files, first %s", n,
            n ? names[0] : "");
  snprintf(p, sizeof p, "%s/model.safetensors", dir);
  CHECK(!l1k_file_exists(p));
  check_same_params(m, dir);
  l1k_model_free(m);
}

/* 12 layers: layers.10 and .11 come after .9 (transformers' natural order), lm_head.weight
 * first; the index depends only on the config (tests/model/data/sharded/qwen2_12layers). */
static void check_many_layers(const char *tmp) {
  char *dir = golden_file("qwen2_12layers", ""), out[600];
  snprintf(out, sizeof out, "%s/qwen2_12layers", tmp);
  l1k_model_config cfg;
  l1k_err err = {0};
  l1k_model *m = NULL;
  CHECK_MSG(l1k_config_load(dir, &cfg, &err) == 0 && (m = l1k_model_create(&cfg, &err)) != NULL,
            "%s", err.msg);
  if (m) {
    l1k_model_init_random(m, 1);
    CHECK_MSG(l1k_model_save_sharded(m, out, "f32", 1000, &err) == 0, "%s", err.msg);
    char *gi = golden_file("qwen2_12layers", "model.safetensors.index.json");
    char *oi = l1k_path_join(out, "model.safetensors.index.json");
    char *g = l1k_read_file(gi, NULL, NULL), *o = l1k_read_file(oi, NULL, NULL);
    CHECK_MSG(g && o && !strcmp(g, o), "qwen2_12layers: index differs from transformers'");
    char names[128][64];
    CHECK(list_shards(out, names, 128) == 86);
    check_same_params(m, out);
    free(gi);
    free(oi);
    free(g);
    free(o);
    l1k_model_free(m);
  }
  free(dir);
}

/* transformers' dot_natural_key order, and the shard plan's oversize rule. */
static void check_plan_rules(void) {
  CHECK(l1k_st_natural_cmp("model.layers.2.x", "model.layers.10.x") < 0);
  CHECK(l1k_st_natural_cmp("model.layers.10.x", "model.layers.2.x") > 0);
  CHECK(l1k_st_natural_cmp("model.norm.weight", "model.layers.0.x") > 0);
  CHECK(l1k_st_natural_cmp("a.shard2", "a.shard11") < 0);
  CHECK(l1k_st_natural_cmp("a.shard", "a.shard0") < 0);
  CHECK(l1k_st_natural_cmp("a.b", "a.b.c") < 0);
  CHECK(l1k_st_natural_cmp("a.7", "a.b") < 0);  /* numbers before words */
  CHECK(l1k_st_natural_cmp("a.007", "a.7") == 0);
  /* sizes [6, 6, 2, 6, 2, 2] with limit 10 -> [6] [6+2] [6+2+2] (huggingface_hub's example);
   * a 12 among them goes alone into the next shard at once, before the one being filled */
  float dummy[24] = {0};
  l1k_st_entry e[7];
  const char *nm[7] = {"t.0", "t.1", "t.2", "t.3", "t.4", "t.5", "t.6"};
  int64_t sz[7] = {6, 6, 2, 12, 6, 2, 2};
  /* one unit = 2 floats = 8 bytes; the limit, 10 units = 80 bytes */
  for (int i = 0; i < 7; i++) e[i] = (l1k_st_entry){nm[i], L1K_DT_F32, 1, {sz[i] * 2}, NULL, dummy};
  size_t shard_of[7], ns = 0;
  CHECK(l1k_st_plan_shards(e, 7, 80, shard_of, &ns, NULL) == 0);
  size_t want[7] = {0, 2, 2, 1, 3, 3, 3}; /* t.3 (12) closes no shard: it is shard 1 */
  CHECK(ns == 4);
  for (int i = 0; i < 7; i++) CHECK_MSG(shard_of[i] == want[i], "t.%d in shard %zu", i, shard_of[i]);
}

int main(int argc, char **argv) {
  char probe[700];
  snprintf(probe, sizeof probe, "%s", shared_path("golden/models/qwen2_tiny/bf16/model.safetensors"));
  if (!l1k_file_exists(probe)) SKIP("no %s", probe);
  check_plan_rules();
  if (argc > 1) { /* keep a bf16 and an f32 sharded qwen3_tiny for check_sharded_hf.py */
    l1k_err err = {0};
    char f32[1024];
    l1k_model *m = l1k_model_load(shared_path("golden/models/qwen3_tiny/f32"), &err);
    snprintf(f32, sizeof f32, "%s-f32", argv[1]);
    CHECK_MSG(m && !l1k_model_save_sharded(m, argv[1], "bf16", SHARD, &err) &&
                  !l1k_model_save_sharded(m, f32, "f32", SHARD, &err), "%s", err.msg);
    l1k_model_free(m);
    CHECK_DONE();
  }
  char tmp[] = "/tmp/l1k_sharded_XXXXXX";
  CHECK(mkdtemp(tmp) != NULL);
  for (size_t i = 0; i < sizeof models / sizeof *models; i++) check_model(models[i], tmp);
  check_resave(tmp);
  check_many_layers(tmp);
  l1k_rm_rf(tmp, NULL);
  CHECK_DONE();
}
