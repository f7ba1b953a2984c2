/* long1k — command-line entry point: git-style subcommands (see cli.h for the table). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "long1k/io.h"

#ifndef LONG1K_VERSION
#define LONG1K_VERSION "0.0.0"
#endif

typedef struct {
  const char *name;
  const char *help;
  int (*fn)(int, char **);
} command;

static const command *commands(size_t *n) {
  static command table[] = {
#define X(name, help) {#name, help, NULL},
      L1K_COMMANDS(X)
#undef X
  };
  size_t i = 0;
#define X(name, help) table[i++].fn = cmd_##name;
  L1K_COMMANDS(X)
#undef X
  *n = i;
  return table;
}

int cli_fail(const char *cmd, const l1k_err *err) {
  fprintf(stderr, "long1k %s: %s\n", cmd, err->msg[0] ? err->msg : "failed");
  return l1k_exit_code(err->code ? err->code : L1K_EINTERNAL);
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "long1k %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(see 'long1k %s --help')\n", cmd);
  return 2;
}

const char *cli_data_dir(void) {
  const char *e = getenv("LONG1K_DATA");
  if (e && *e) return e;
#ifdef LONG1K_DATA_DIR
  if (l1k_is_dir(LONG1K_DATA_DIR)) return LONG1K_DATA_DIR;
#endif
  return "/usr/local/share/long1k";
}

static void usage(FILE *f) {
  size_t n;
  const command *t = commands(&n);
  fprintf(f,
          "long1k %s — train reasoning models on long chain-of-thought data\n\n"
          "usage: long1k <command> [options]      (long1k <command> --help for details)\n\n"
          "commands:\n",
          LONG1K_VERSION);
  for (size_t i = 0; i < n; i++)
    if (t[i].fn) fprintf(f, "  %-10s %s\n", t[i].name, t[i].help);
  fprintf(f, "  %-10s %s\n  %-10s %s\n", "help", "Show this list, or a command's help",
          "version", "Print the version");
  int missing = 0;
  for (size_t i = 0; i < n; i++) missing += !t[i].fn;
  if (missing) {
    fprintf(f, "\nnot in this build yet:");
    for (size_t i = 0; i < n; i++)
      if (!t[i].fn) fprintf(f, " %s", t[i].name);
    fprintf(f, "\n");
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *c = argv[1];
  if (!strcmp(c, "--version") || !strcmp(c, "version") || !strcmp(c, "-V")) {
    printf("long1k %s\n", LONG1K_VERSION);
    return 0;
  }
  if (!strcmp(c, "help") || !strcmp(c, "--help") || !strcmp(c, "-h")) {
    if (argc >= 3 && strcmp(c, "help") == 0) {
      char *hargv[] = {argv[2], "--help", NULL};
      size_t n;
      const command *t = commands(&n);
      for (size_t i = 0; i < n; i++)
        if (!strcmp(t[i].name, argv[2]) && t[i].fn) return t[i].fn(2, hargv);
      fprintf(stderr, "long1k: unknown command '%s'\n", argv[2]);
      return 2;
    }
    usage(stdout);
    return 0;
  }
  size_t n;
  const command *t = commands(&n);
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(t[i].name, c)) {
      if (!t[i].fn) {
        fprintf(stderr, "long1k: command '%s' is not part of this build yet\n", c);
        return 1;
      }
      return t[i].fn(argc - 1, argv + 1);
    }
  }
  fprintf(stderr, "long1k: unknown command '%s' (see 'long1k help')\n", c);
  return 2;
}
