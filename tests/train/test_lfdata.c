/* LLaMA-Factory datasets: names resolve through dataset_info.json (columns / tags as
 * LLaMA-Factory's DatasetAttr sets them, a directory's files in name order); JSON array files,
 * JSON Lines and gzip read alike; every record converts to the messages LLaMA-Factory's own
 * converters give (golden.jsonl, made by tests/train/make_lf_goldens.py from LLaMA-Factory's
 * parser.py and converter.py), and each record LLaMA-Factory drops or cannot train on here is
 * an error naming the field; unsupported entries are refused naming the dataset and the key;
 * max_samples is per dataset and datasets are concatenated in the order given. */
#include <cjson/cJSON.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "long1k/dataset.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"

#define DIR_LF "tests/train/data/lf_convert"

static char *src_path(const char *rel) {
  const char *s = getenv("LONG1K_SRC") ? getenv("LONG1K_SRC") : ".";
  return l1k_path_join(s, rel);
}

/* the expected messages of one golden line: system (when non-empty), prompt, response */
static int golden_msgs(const cJSON *g, const char **role, const char **content, int cap) {
  int n = 0;
  const cJSON *sys = cJSON_GetObjectItem(g, "system");
  if (cJSON_IsString(sys) && *sys->valuestring) role[n] = "system", content[n++] = sys->valuestring;
  const char *parts[] = {"prompt", "response"};
  for (int k = 0; k < 2; k++) {
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(g, parts[k])) {
      if (n == cap) return -1;
      role[n] = cJSON_GetObjectItem(m, "role")->valuestring;
      content[n++] = cJSON_GetObjectItem(m, "content")->valuestring;
    }
  }
  return n;
}

static int is_tool_golden(const cJSON *g) {
  const cJSON *m;
  cJSON_ArrayForEach(m, cJSON_GetObjectItem(g, "response")) {
    const char *r = cJSON_GetObjectItem(m, "role")->valuestring;
    if (!strcmp(r, "function") || !strcmp(r, "observation")) return 1;
  }
  return 0;
}

/* one converted record against its golden line */
static void check_record(const cJSON *rec, const l1k_data_source *s, const cJSON *g,
                         const char *where) {
  l1k_lf_msgs ms;
  l1k_err err = {0};
  int rc = l1k_lf_convert(rec, s, &ms, &err);
  if (cJSON_GetObjectItem(g, "skipped") || is_tool_golden(g)) {
    /* LLaMA-Factory drops it (or it is a tool call): long1k names the field */
    CHECK_MSG(rc != 0 && strstr(err.msg, "field '") != NULL, "%s: converted, want an error (%s)",
              where, err.msg);
    if (!rc) l1k_lf_msgs_free(&ms);
    return;
  }
  CHECK_MSG(rc == 0, "%s: %s", where, err.msg);
  if (rc) return;
  const char *role[64], *content[64];
  int n = golden_msgs(g, role, content, 64);
  CHECK_MSG((int)ms.n == n, "%s: %zu messages, golden %d", where, ms.n, n);
  for (int i = 0; i < n && i < (int)ms.n; i++) {
    CHECK_MSG(!strcmp(ms.m[i].role, role[i]), "%s: message %d role %s, golden %s", where, i,
              ms.m[i].role, role[i]);
    CHECK_MSG(!strcmp(ms.m[i].content, content[i]), "%s: message %d '%s', golden '%s'", where, i,
              ms.m[i].content, content[i]);
  }
  l1k_lf_msgs_free(&ms);
}

static void check_goldens(void) {
  char *dir = src_path(DIR_LF), *gp = l1k_path_join(dir, "golden.jsonl");
  l1k_err err = {0};
  l1k_jsonl *gj = l1k_jsonl_open(gp, &err);
  CHECK_MSG(gj != NULL, "%s", err.msg);
  if (!gj) return;
  cJSON *g = NULL;
  CHECK(l1k_jsonl_next(gj, &g, &err) == 1); /* header: made_by, llamafactory commit */
  cJSON_Delete(g);
  const char *names = "alpaca_default,alpaca_columns,alpaca_no_query,sharegpt_default,"
                      "sharegpt_system_column,sharegpt_no_system_tag,openai_messages";
  l1k_data_source *src = NULL;
  int ns = 0;
  CHECK_MSG(l1k_data_sources_resolve(names, dir, &src, &ns, &err) == 0, "%s", err.msg);
  CHECK(ns == 7);
  int compared = 0;
  for (int i = 0; i < ns; i++) {
    CHECK(src[i].lf == 1);
    int64_t index = 0;
    for (int f = 0; f < src[i].n_files; f++) {
      l1k_records *r = l1k_records_open(src[i].files[f], &err);
      CHECK_MSG(r != NULL, "%s", err.msg);
      cJSON *rec;
      while (r && l1k_records_next(r, &rec, &err) == 1) {
        CHECK(l1k_jsonl_next(gj, &g, &err) == 1);
        const cJSON *gd = cJSON_GetObjectItem(g, "dataset"), *gi = cJSON_GetObjectItem(g, "index");
        CHECK_MSG(gd && !strcmp(gd->valuestring, src[i].spec) && gi && gi->valueint == index,
                  "golden order: %s %lld", src[i].spec, (long long)index);
        char where[600];
        snprintf(where, sizeof where, "%s %s", src[i].spec, l1k_records_where(r));
        check_record(rec, &src[i], g, where);
        compared++;
        index++;
        cJSON_Delete(rec);
        cJSON_Delete(g);
      }
      l1k_records_close(r);
    }
  }
  CHECK(l1k_jsonl_next(gj, &g, &err) == 0); /* every golden line compared */
  CHECK_MSG(compared == 28, "%d records compared", compared);
  /* a directory's files are taken in name order */
  CHECK(src[4].n_files == 2 && strstr(src[4].files[0], "part-0.jsonl") && strstr(src[4].files[1], "part-1.json"));
  l1k_data_sources_free(src, ns);
  l1k_jsonl_close(gj);
  free(gp);
  free(dir);
}

static void write_text(const char *dir, const char *name, const char *text) {
  char *p = l1k_path_join(dir, name);
  l1k_err err = {0};
  CHECK_MSG(l1k_write_file_atomic(p, text, strlen(text), &err) == 0, "%s", err.msg);
  free(p);
}

static void expect_refused(const char *dir, const char *name, int code, const char *msg) {
  l1k_data_source *src = NULL;
  int ns = 0;
  l1k_err err = {0};
  int rc = l1k_data_sources_resolve(name, dir, &src, &ns, &err);
  CHECK_MSG(rc == code && strstr(err.msg, msg), "%s -> %d '%s' (want %d '%s')", name, rc, err.msg,
            code, msg);
  if (!rc) l1k_data_sources_free(src, ns);
}

static void check_refusals(const char *dir) {
  write_text(dir, "dataset_info.json",
             "{\"hub\": {\"hf_hub_url\": \"a/b\"},\n"
             " \"rank\": {\"file_name\": \"x.json\", \"ranking\": true},\n"
             " \"sampled\": {\"file_name\": \"x.json\", \"num_samples\": 10},\n"
             " \"pics\": {\"file_name\": \"x.json\", \"formatting\": \"sharegpt\", \"columns\": {\"messages\": \"m\", \"images\": \"images\"}},\n"
             " \"tools\": {\"file_name\": \"x.json\", \"columns\": {\"tools\": \"tools\"}},\n"
             " \"xml\": {\"file_name\": \"x.json\", \"formatting\": \"xml\"},\n"
             " \"csv\": {\"file_name\": \"x.csv\"},\n"
             " \"missing\": {\"file_name\": \"nope.json\"},\n"
             " \"nofile\": {\"formatting\": \"alpaca\"},\n"
             " \"ok\": {\"file_name\": \"x.json\"}}\n");
  write_text(dir, "x.json", "[]");
  write_text(dir, "x.csv", "a,b\n");
  expect_refused(dir, "ok,hub", L1K_EUNSUPPORTED, "dataset_info.json: dataset 'hub': 'hf_hub_url': hub, script and cloud datasets are not supported");
  expect_refused(dir, "rank", L1K_EUNSUPPORTED, "dataset 'rank': 'ranking': preference (ranking) datasets");
  expect_refused(dir, "sampled", L1K_EUNSUPPORTED, "dataset 'sampled': 'num_samples'");
  expect_refused(dir, "pics", L1K_EUNSUPPORTED, "dataset 'pics': 'columns.images': images (multimodal)");
  expect_refused(dir, "tools", L1K_EUNSUPPORTED, "dataset 'tools': 'columns.tools': tool descriptions");
  expect_refused(dir, "xml", L1K_EUNSUPPORTED, "dataset 'xml': 'formatting': 'xml' is not alpaca, sharegpt or openai");
  expect_refused(dir, "csv", L1K_EUNSUPPORTED, "file type 'csv' is not supported");
  expect_refused(dir, "missing", L1K_EINPUT, "dataset 'missing': 'file_name':");
  expect_refused(dir, "nofile", L1K_EINPUT, "dataset 'nofile': 'file_name': missing");
  expect_refused(dir, "ok, unknown_name", L1K_EINPUT, "dataset: 'unknown_name' is neither a dataset in");
  write_text(dir, "dataset_info.json", "{\"a\": {\"file_name\": \"x.json\"},\n \"b\": }\n");
  expect_refused(dir, "a", L1K_EINPUT, "dataset_info.json:2: invalid JSON");
}

/* JSON arrays (with a BOM), JSON Lines in a .json file, gzip: the same records */
static void check_readers(const char *dir) {
  write_text(dir, "arr.json", "\xEF\xBB\xBF [\n {\"a\": 1},\n {\"a\": 2}\n]\n");
  write_text(dir, "lines.json", "{\"a\": 1}\n\n{\"a\": 2}\n");
  char *gzp = l1k_path_join(dir, "arr.json.gz");
  gzFile z = gzopen(gzp, "wb");
  gzputs(z, "[{\"a\": 1}, {\"a\": 2}]");
  gzclose(z);
  const char *files[] = {"arr.json", "lines.json", "arr.json.gz"};
  for (int f = 0; f < 3; f++) {
    char *p = l1k_path_join(dir, files[f]);
    l1k_err err = {0};
    l1k_records *r = l1k_records_open(p, &err);
    CHECK_MSG(r != NULL, "%s", err.msg);
    cJSON *rec;
    int n = 0;
    while (r && l1k_records_next(r, &rec, &err) == 1) {
      n++;
      CHECK(cJSON_GetObjectItem(rec, "a")->valueint == n);
      cJSON_Delete(rec);
    }
    CHECK_MSG(n == 2, "%s: %d records", files[f], n);
    CHECK(r && l1k_records_is_array(r) == (f != 1));
    l1k_records_close(r);
    free(p);
  }
  free(gzp);
  /* an invalid array names the line */
  write_text(dir, "bad.json", "[\n {\"a\": 1},\n {\"a\": }\n]\n");
  char *p = l1k_path_join(dir, "bad.json");
  l1k_err err = {0};
  CHECK(l1k_records_open(p, &err) == NULL && strstr(err.msg, "bad.json:3: invalid JSON"));
  free(p);
}

/* max_samples per dataset, concatenation in the order given, errors naming file, record and
 * field, and the same ids as encoding each record alone */
static void check_load(const char *tmp) {
  l1k_err err = {0};
  char *tokdir = src_path("data/tokenizers/qwen");
  l1k_tokenizer *tok = l1k_tokenizer_load(tokdir, &err);
  CHECK_MSG(tok != NULL, "%s", err.msg);
  if (!tok) return;
  char *dir = src_path(DIR_LF);
  l1k_data_opts o;
  l1k_data_opts_default(&o);
  o.tok = tok;
  o.tokenizer_path = tokdir;
  o.dataset_dir = dir;
  CHECK(l1k_chat_template_by_name("qwen2.5", &o.tmpl, &err) == 0);
  o.max_samples = 2;
  l1k_dataset ds;
  CHECK_MSG(l1k_dataset_load("sharegpt_system_column, alpaca_columns", &o, &ds, &err) == 0, "%s", err.msg);
  CHECK(ds.n == 4 && ds.stats.records == 4 && ds.stats.not_read == 2);
  /* sample 2 is alpaca_columns' record 0 */
  l1k_data_source *src = NULL;
  int ns = 0;
  CHECK(l1k_data_sources_resolve("alpaca_columns", dir, &src, &ns, &err) == 0);
  l1k_records *r = l1k_records_open(src[0].files[0], &err);
  cJSON *rec = NULL;
  CHECK(r && l1k_records_next(r, &rec, &err) == 1);
  l1k_ids ids = {0};
  uint8_t *mask = NULL;
  CHECK(l1k_lf_record_encode(rec, &src[0], &o, &ids, &mask, &err) == 0);
  CHECK(ds.n == 4 && (int64_t)ids.len == l1k_dataset_len(&ds, 2) &&
        !memcmp(ids.data, ds.ids + ds.off[2], ids.len * 4) && !memcmp(mask, ds.mask + ds.off[2], ids.len));
  free(ids.data);
  free(mask);
  cJSON_Delete(rec);
  l1k_records_close(r);
  l1k_data_sources_free(src, ns);
  l1k_dataset_free(&ds);
  /* a record LLaMA-Factory would drop: file, record index, field */
  o.max_samples = 0;
  CHECK(l1k_dataset_load("alpaca_default", &o, &ds, &err) == L1K_EINPUT);
  CHECK_MSG(strstr(err.msg, "alpaca.json: record 4: field 'output': missing") != NULL, "%s", err.msg);
  o.skip_bad_records = 1;
  CHECK_MSG(l1k_dataset_load("alpaca_default", &o, &ds, &err) == 0, "%s", err.msg);
  CHECK(ds.n == 4 && ds.stats.bad == 1);
  l1k_dataset_free(&ds);
  /* a JSON array file given as a path (long1k's formats, detected per record) */
  char *arr = l1k_path_join(dir, "alpaca.json");
  char *empty = l1k_path_join(tmp, "empty");
  CHECK(empty && mkdir(empty, 0700) == 0);
  o.dataset_dir = empty; /* no dataset_info.json there */
  CHECK_MSG(l1k_dataset_load(arr, &o, &ds, &err) == 0, "%s", err.msg);
  CHECK(ds.stats.records == 5 && ds.n == 4 && ds.stats.bad == 1);
  l1k_dataset_free(&ds);
  free(arr);
  free(empty);
  free(dir);
  free(tokdir);
  l1k_chat_template_free(o.tmpl);
  l1k_tokenizer_free(tok);
}

int main(void) {
  char tmp[] = "/tmp/l1k_test_lfdata_XXXXXX";
  CHECK(mkdtemp(tmp) != NULL);
  check_goldens();
  check_refusals(tmp);
  check_readers(tmp);
  check_load(tmp);
  l1k_rm_rf(tmp, NULL);
  CHECK_DONE();
}
