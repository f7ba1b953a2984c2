/* long1k CLI — shared declarations. Each subcommand lives in src/cli/cmd_<name>.c and defines
 *   int cmd_<name>(int argc, char **argv);   (argv[0] is the subcommand name)
 * returning the process exit code: 0 ok, 2 bad input, 1 internal fault. Parse options with
 * getopt_long; every command answers --help (print usage to stdout, return 0). */
#ifndef LONG1K_CLI_H
#define LONG1K_CLI_H

#include "long1k/error.h"

/* Prints "long1k <cmd>: <msg>" to stderr and returns the exit code for err->code. */
int cli_fail(const char *cmd, const l1k_err *err);
/* Prints "long1k <cmd>: <printf message>" and returns 2 (usage / bad input). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Directory with the data files shipped with long1k (benchmarks, samples): $LONG1K_DATA, else
 * the source tree's data/ (when run from the build), else <prefix>/share/long1k. */
const char *cli_data_dir(void);

/* --device / --precision (src/cli/device.c). cli_parse_precision: "auto" | "fp32" | "bf16"
 * into *out (an l1k_device_precision); -1 for anything else. cli_generation_device: checks a
 * --device of a command that generates (generate, eval --model) before any work: cpu, cuda or
 * auto (cuda when a GPU and the CUDA backend are present); cuda absent from the build or
 * without a device is refused with one line. cli_generation_attach: moves a loaded model to
 * that device (nothing to do for cpu); precision auto is bf16 on a device. 0 or an L1K_E*
 * code with err set. */
struct l1k_model;
int cli_parse_precision(const char *s, int *out);
int cli_generation_device(const char *device, l1k_err *err);
int cli_generation_attach(struct l1k_model *m, const char *device, int precision, l1k_err *err);
#define CLI_DEVICE_HELP                                                                      \
  "  --device NAME        cpu | cuda | auto (default auto: cuda when a GPU and the CUDA\n"   \
  "                       backend are present, else cpu)\n"

#define L1K_COMMANDS(X)                                                                      \
  X(tokenize, "Tokenize JSONL text (or chat messages) with a Hugging Face tokenizer.json")   \
  X(init, "Write a random-initialized Qwen2/Qwen3/Llama model directory (HF format)")       \
  X(parity, "Compare forward/backward/generation against a transformers reference dump")   \
  X(generate, "Generate completions with a local model (KV cache, greedy or sampling)")    \
  X(train, "Supervised fine-tuning with the Long1K recipe (LLaMA-Factory-style YAML)")     \
  X(plan, "Plan the GPU memory of a training run (largest sequence that fits)")          \
  X(merge, "Merge a PEFT LoRA adapter into its base model (merge_and_unload)")          \
  X(synth, "Synthesize long reasoning samples by joining solved problems")                \
  X(grade, "Grade answers against references (math equivalence, multiple choice)")        \
  X(eval, "Run a benchmark with a local model or an OpenAI-compatible server")            \
  X(fit, "Fit the length scaling law y = a + b ln(x)")                                    \
  X(report, "Gather run directories into one self-contained HTML report")                 \
  X(demo, "Run the whole Long1K loop on a built-in toy task")

#define X(name, help) int cmd_##name(int argc, char **argv) __attribute__((weak));
L1K_COMMANDS(X)
#undef X

#endif
