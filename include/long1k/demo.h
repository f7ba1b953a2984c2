/* long1k — the built-in demo: a deterministic pool of solved toy problems (multi-digit
 * addition, subtraction, multiplication by a digit, small linear equations) with step-by-step
 * reasoning whose length grows with the number of digits, written in the pool schema
 * `long1k synth` reads (fields: id, problem, reasoning, solution, answer, difficulty, domain). */
#ifndef LONG1K_DEMO_H
#define LONG1K_DEMO_H

#include <stdint.h>
#include <stdio.h>
#include "long1k/error.h"

typedef struct l1k_toy_problem {
  char id[32];
  char domain[16];   /* "arithmetic" | "algebra" */
  int difficulty;    /* 1..5: number of digits (equations: size of the coefficients) */
  char problem[256];
  char reasoning[4096];
  char solution[512];
  char answer[64];
} l1k_toy_problem;

typedef struct l1k_toy_opts {
  int min_digits, max_digits; /* 1..7 */
  int kinds;                  /* bit mask: 1 add, 2 sub, 4 mul, 8 linear equation */
  int verbose;                /* 0 plain steps; 1 also restate and check (longer reasoning) */
} l1k_toy_opts;

void l1k_toy_default_opts(l1k_toy_opts *o);
/* Problem number `index` of the stream for `seed` (pure function of seed and index). */
void l1k_toy_generate(uint64_t seed, uint64_t index, const l1k_toy_opts *o, l1k_toy_problem *p);
/* Writes n problems (indices first..first+n-1) as JSONL records. */
int l1k_toy_write_pool(FILE *f, uint64_t seed, uint64_t first, int64_t n, const l1k_toy_opts *o,
                       l1k_err *err);

#endif
