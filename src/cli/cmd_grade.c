/* long1k grade — grade answers against references (extraction + math equivalence). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "long1k/grade.h"
#include "long1k/io.h"
#include "long1k/jsonl.h"

static const char *GRADE_USAGE =
    "usage: long1k grade [options] [FILE.jsonl]        (FILE or \"-\": stdin)\n"
    "\n"
    "Grades answers deterministically: extracts the final answer from a response (after\n"
    "</think>; the last \\boxed{}, several boxed answers for composite problems; \"final answer\n"
    "is\", \"Answer:\", <answer> tags; the last math segment or number) and decides mathematical\n"
    "equivalence (LaTeX and plain math; fractions, radicals, units, percent, degrees, sets,\n"
    "intervals, tuples, matrices, equations, symbolic expressions).\n"
    "\n"
    "modes:\n"
    "  (default)             benchmark results: each line has a gold answer and a response;\n"
    "                        adds \"extracted\" (string or null) and \"correct\" (bool)\n"
    "  -p, --pairs           {\"gold\", \"pred\"} lines (pred: a bare answer or a whole\n"
    "                        response); adds \"equal\" (bool)\n"
    "\n"
    "options:\n"
    "  -g, --gold-field F    gold answer field (default: answer; with --pairs: gold)\n"
    "  -r, --response-field F  response field (default: response; with --pairs: pred)\n"
    "      --out-field F     name of the verdict field (default: correct / equal)\n"
    "  -c, --choices N       multiple choice with N options (A..): a gold that is a single\n"
    "                        letter is graded by the letter the response chooses\n"
    "  -o, --out FILE        write there (atomically) instead of stdout\n"
    "  -q, --quiet           no summary on stderr\n"
    "      --timing          add grading time and grades/s to the summary\n"
    "  -h, --help            this text\n"
    "\n"
    "Gold and response may be JSON strings or numbers; null counts as no answer (never\n"
    "correct). Every line is written back with the added fields, in order. Summary on stderr:\n"
    "lines graded, correct, accuracy. A line that is not JSON, not an object, or lacks a field\n"
    "stops with FILE:LINE and what was expected, exit code 2.\n";

/* gold/response as a string: strings as they are, numbers printed, null -> NULL (no answer).
 * Returns 0 for another type (bad input). */
static int field_text(const cJSON *v, char **out, char *numbuf, size_t cap) {
  *out = NULL;
  if (!v || cJSON_IsNull(v)) return v != NULL;
  if (cJSON_IsString(v)) {
    *out = v->valuestring;
    return 1;
  }
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (d == (double)(long long)d && d < 1e15 && d > -1e15) snprintf(numbuf, cap, "%lld", (long long)d);
    else snprintf(numbuf, cap, "%.17g", d);
    /* shortest representation that reads back */
    for (int prec = 1; prec <= 17; prec++) {
      char t[64];
      snprintf(t, sizeof t, "%.*g", prec, d);
      if (strtod(t, NULL) == d) {
        snprintf(numbuf, cap, "%s", t);
        break;
      }
    }
    *out = numbuf;
    return 1;
  }
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int cmd_grade(int argc, char **argv) {
  const char *cmd = "grade";
  int pairs = 0, quiet = 0, timing = 0, choices = 0;
  const char *gold_field = NULL, *resp_field = NULL, *out_field = NULL, *out_path = NULL;
  static const struct option opts[] = {{"pairs", no_argument, 0, 'p'},
                                       {"gold-field", required_argument, 0, 'g'},
                                       {"response-field", required_argument, 0, 'r'},
                                       {"out-field", required_argument, 0, 'F'},
                                       {"choices", required_argument, 0, 'c'},
                                       {"out", required_argument, 0, 'o'},
                                       {"quiet", no_argument, 0, 'q'},
                                       {"timing", no_argument, 0, 'T'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":pg:r:c:o:qh", opts, NULL)) != -1) {
    switch (c) {
      case 'p': pairs = 1; break;
      case 'g': gold_field = optarg; break;
      case 'r': resp_field = optarg; break;
      case 'F': out_field = optarg; break;
      case 'c': {
        char *end;
        long v = strtol(optarg, &end, 10);
        if (*end || v < 2 || v > 10)
          return cli_usage_error(cmd, "--choices: expected an integer 2..10, got '%s'", optarg);
        choices = (int)v;
        break;
      }
      case 'o': out_path = optarg; break;
      case 'q': quiet = 1; break;
      case 'T': timing = 1; break;
      case 'h': fputs(GRADE_USAGE, stdout); return 0;
      case ':': return cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
      default: return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc - 1) return cli_usage_error(cmd, "expected one input file, got %d", argc - optind);
  const char *in_path = optind < argc ? argv[optind] : "-";
  if (!gold_field) gold_field = pairs ? "gold" : "answer";
  if (!resp_field) resp_field = pairs ? "pred" : "response";
  if (!out_field) out_field = pairs ? "equal" : "correct";

  l1k_err err = {0};
  if (l1k_output_check(out_path, &in_path, 1, &err)) return cli_fail(cmd, &err);
  l1k_jsonl *r = l1k_jsonl_open(in_path, &err);
  if (!r) return cli_fail(cmd, &err);
  l1k_atomic_file af = {0};
  FILE *out = stdout;
  if (out_path && strcmp(out_path, "-") != 0) {
    if (l1k_atomic_open(&af, out_path, &err) != 0) {
      l1k_jsonl_close(r);
      return cli_fail(cmd, &err);
    }
    out = af.f;
  }
  long long n = 0, n_correct = 0, n_noanswer = 0;
  double t_grade = 0;
  int rc, status = 0;
  cJSON *rec;
  char gbuf[64], pbuf[64];
  l1k_buf ob = {0};
  const char *raw;
  size_t raw_len;
  while ((rc = l1k_jsonl_next_line(r, &raw, &raw_len, &err)) == 1) {
    long long line = (long long)l1k_jsonl_line_no(r);
    const char *end = NULL;
    rec = cJSON_ParseWithLengthOpts(raw, raw_len, &end, 0);
    if (rec && end) {
      while (end < raw + raw_len && (*end == ' ' || *end == '\t' || *end == '\r')) end++;
      if (end < raw + raw_len) {
        l1k_errf(&err, L1K_EINPUT, "%s:%lld: invalid JSON: unexpected text after the value at column %ld",
                 l1k_jsonl_path(r), line, (long)(end - raw) + 1);
        cJSON_Delete(rec);
        status = -1;
        break;
      }
    }
    if (!rec) {
      const char *ep = cJSON_GetErrorPtr();
      long col = (ep && ep >= raw && ep <= raw + raw_len) ? (long)(ep - raw) + 1 : 0;
      if (col) l1k_errf(&err, L1K_EINPUT, "%s:%lld: invalid JSON near column %ld", l1k_jsonl_path(r), line, col);
      else l1k_errf(&err, L1K_EINPUT, "%s:%lld: invalid JSON", l1k_jsonl_path(r), line);
      status = -1;
      break;
    }
    if (!cJSON_IsObject(rec)) {
      l1k_errf(&err, L1K_EINPUT, "%s:%lld: expected a JSON object", l1k_jsonl_path(r), line);
      cJSON_Delete(rec);
      status = -1;
      break;
    }
    const cJSON *gv = cJSON_GetObjectItemCaseSensitive(rec, gold_field);
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(rec, resp_field);
    char *gold, *pred;
    const char *bad = NULL;
    if (!field_text(gv, &gold, gbuf, sizeof gbuf)) bad = gold_field;
    else if (!field_text(pv, &pred, pbuf, sizeof pbuf)) bad = resp_field;
    if (bad) {
      const cJSON *v = bad == gold_field ? gv : pv;
      l1k_errf(&err, L1K_EINPUT, "%s:%lld: field '%s': expected a string or number%s",
               l1k_jsonl_path(r), line, bad, v ? "" : " (missing)");
      cJSON_Delete(rec);
      status = -1;
      break;
    }
    double t0 = timing ? now_s() : 0;
    int verdict;
    char *extracted = NULL;
    if (pairs) {
      verdict = l1k_math_equal(gold, pred);
    } else {
      l1k_grade_result g = {0};
      int grc = pred ? l1k_grade_response(gold, pred, strlen(pred), choices, &g) : L1K_OK;
      if (grc != L1K_OK) {
        l1k_errf(&err, grc, "%s:%lld: out of memory while grading", l1k_jsonl_path(r), line);
        cJSON_Delete(rec);
        status = -1;
        break;
      }
      verdict = g.correct;
      extracted = g.extracted;
    }
    if (timing) t_grade += now_s() - t0;
    n++;
    n_correct += verdict != 0;
    /* fast path: the fields are new, so the line is written back as it was read with the
     * fields appended before its closing brace (no re-serialization of long responses) */
    if (!cJSON_GetObjectItemCaseSensitive(rec, out_field) &&
        (pairs || !cJSON_GetObjectItemCaseSensitive(rec, "extracted"))) {
      size_t e = raw_len;
      while (e > 0 && (raw[e - 1] == ' ' || raw[e - 1] == '\t' || raw[e - 1] == '\r')) e--;
      int empty = rec->child == NULL;
      ob.len = 0;
      int w = l1k_buf_append(&ob, raw, e - 1);
      if (!pairs) {
        n_noanswer += extracted == NULL;
        w |= l1k_buf_puts(&ob, empty ? "\"extracted\":" : ",\"extracted\":");
        w |= extracted ? l1k_buf_json_string(&ob, extracted, strlen(extracted)) : l1k_buf_puts(&ob, "null");
        empty = 0;
      }
      w |= l1k_buf_puts(&ob, empty ? "\"" : ",\"");
      w |= l1k_buf_puts(&ob, out_field);
      w |= l1k_buf_puts(&ob, verdict ? "\":true}\n" : "\":false}\n");
      free(extracted);
      cJSON_Delete(rec);
      if (w) {
        l1k_errf(&err, L1K_ENOMEM, "%s:%lld: out of memory", l1k_jsonl_path(r), line);
        status = -1;
        break;
      }
      fwrite(ob.data, 1, ob.len, out);
      continue;
    }
    if (!pairs) {
      n_noanswer += extracted == NULL;
      cJSON_DeleteItemFromObjectCaseSensitive(rec, "extracted");
      if (!cJSON_AddItemToObject(rec, "extracted", extracted ? cJSON_CreateString(extracted) : cJSON_CreateNull()))
        status = -2;
      free(extracted);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(rec, out_field);
    if (!cJSON_AddBoolToObject(rec, out_field, verdict != 0)) status = -2;
    char *txt = status == 0 ? cJSON_PrintUnformatted(rec) : NULL;
    cJSON_Delete(rec);
    if (!txt) {
      l1k_errf(&err, L1K_ENOMEM, "%s:%lld: out of memory", l1k_jsonl_path(r), line);
      status = -1;
      break;
    }
    fputs(txt, out);
    fputc('\n', out);
    free(txt);
  }
  l1k_buf_free(&ob);
  if (rc < 0) status = -1;
  long long blank = (long long)l1k_jsonl_blank_lines(r);
  l1k_jsonl_close(r);
  if (status == 0 && ferror(out)) {
    l1k_errf(&err, L1K_EIO, "%s: write error", out_path ? out_path : "stdout");
    status = -1;
  }
  if (status != 0) {
    if (out_path && af.f) l1k_atomic_abort(&af);
    return cli_fail(cmd, &err);
  }
  if (out_path && af.f && l1k_atomic_commit(&af, &err) != 0) return cli_fail(cmd, &err);
  if (!quiet) {
    fprintf(stderr, "graded %lld line%s: %lld %s (accuracy %.2f%%)", n, n == 1 ? "" : "s", n_correct,
            pairs ? "equal" : "correct", n ? 100.0 * (double)n_correct / (double)n : 0.0);
    if (!pairs) fprintf(stderr, ", %lld without an extractable answer", n_noanswer);
    if (blank) fprintf(stderr, ", %lld blank line%s skipped", blank, blank == 1 ? "" : "s");
    fputc('\n', stderr);
    if (timing)
      fprintf(stderr, "grading time %.4f s, %.0f grades/s (one thread, excluding JSON I/O)\n", t_grade,
              t_grade > 0 ? (double)n / t_grade : 0.0);
  }
  return 0;
}
