/* config.json in the transformers 4.x and 5.x spellings, generation_config.json EOS ids, and
 * refusal of what we do not compute (sliding window, yarn, unknown model types). */
#include <unistd.h>

#include "check.h"
#include "long1k/io.h"
#include "long1k/model.h"

static int parse(const char *json, l1k_model_config *c, l1k_err *err) {
  return l1k_config_parse(json, "cfg.json", c, err);
}

#define BASE "\"vocab_size\":100,\"hidden_size\":32,\"intermediate_size\":64,\"num_hidden_layers\":2,\"num_attention_heads\":4"

int main(void) {
  l1k_err err = {0};
  l1k_model_config c;
  /* 4.x spelling, real checkpoints */
  CHECK_MSG(l1k_config_load_file(shared_path("configs/qwen2.5-0.5b-instruct.json"), &c, &err) == 0, "%s", err.msg);
  CHECK_STR(c.model_type, "qwen2");
  CHECK(c.hidden_size == 896 && c.num_attention_heads == 14 && c.num_key_value_heads == 2);
  CHECK(c.head_dim == 64 && c.attention_bias == 1 && c.qk_norm == 0 && c.tie_word_embeddings == 1);
  CHECK(c.rope_theta == 1000000.0 && c.rope_type == 0 && c.vocab_size == 151936);
  CHECK_STR(c.torch_dtype, "bfloat16");
  CHECK(c.n_eos == 1 && c.eos_token_ids[0] == 151645 && c.bos_token_id == 151643);
  CHECK(l1k_config_num_params(&c) == 494032768); /* Qwen2.5-0.5B: 494,032,768 parameters */
  CHECK(l1k_config_load_file(shared_path("configs/qwen2.5-7b-instruct.json"), &c, &err) == 0);
  CHECK(c.tie_word_embeddings == 0 && c.vocab_size == 152064);
  CHECK(l1k_config_load_file(shared_path("configs/qwen3-0.6b.json"), &c, &err) == 0);
  CHECK(c.qk_norm && !c.attention_bias && c.head_dim == 128 && c.num_attention_heads == 16);
  CHECK(l1k_config_num_params(&c) == 596049920); /* Qwen3-0.6B incl. tied embeddings */
  CHECK(l1k_config_load_file(shared_path("configs/llama-3.2-1b.json"), &c, &err) == 0);
  CHECK(c.rope_type == 1 && c.rope_factor == 32.0 && c.rope_low_freq_factor == 1.0 &&
        c.rope_high_freq_factor == 4.0 && c.rope_original_max_position == 8192);
  CHECK(c.rope_theta == 500000.0 && c.rms_norm_eps == 1e-5 && c.head_dim == 64);
  CHECK(l1k_config_num_params(&c) == 1235814400); /* Llama-3.2-1B */
  /* 5.x spelling (golden models) + generation_config.json */
  CHECK(l1k_config_load(shared_path("golden/models/llama_tiny/f32"), &c, &err) == 0);
  CHECK(c.rope_type == 1 && c.rope_theta == 500000.0 && c.rope_factor == 32.0);
  CHECK(c.head_dim == 16 && c.n_eos == 1 && c.eos_token_ids[0] == 2);
  CHECK(l1k_config_load(shared_path("golden/models/qwen3_tiny/f32"), &c, &err) == 0);
  CHECK(c.head_dim == 32 && c.qk_norm && c.rope_theta == 1e6 && !c.tie_word_embeddings);
  CHECK_STR(c.torch_dtype, "float32");
  CHECK(l1k_config_load(shared_path("golden/models/qwen2_tiny/bf16"), &c, &err) == 0);
  CHECK_STR(c.torch_dtype, "bfloat16");
  /* head_dim null -> derived; kv heads default */
  CHECK(parse("{\"model_type\":\"llama\"," BASE ",\"head_dim\":null}", &c, &err) == 0);
  CHECK(c.head_dim == 8 && c.num_key_value_heads == 4 && c.rope_theta == 10000.0);
  /* generation_config EOS list is merged (its ids first) */
  char dir[128], p[256];
  snprintf(dir, sizeof dir, "/tmp/l1k_cfg_%d", (int)getpid());
  l1k_mkdir_p(dir, &err);
  snprintf(p, sizeof p, "%s/config.json", dir);
  const char *cj = "{\"model_type\":\"qwen2\"," BASE ",\"eos_token_id\":5}";
  l1k_write_file_atomic(p, cj, strlen(cj), &err);
  snprintf(p, sizeof p, "%s/generation_config.json", dir);
  const char *gj = "{\"eos_token_id\":[7,5],\"bos_token_id\":1}";
  l1k_write_file_atomic(p, gj, strlen(gj), &err);
  CHECK_MSG(l1k_config_load(dir, &c, &err) == 0, "%s", err.msg);
  CHECK(c.n_eos == 2 && c.eos_token_ids[0] == 7 && c.eos_token_ids[1] == 5);
  gj = "{\"eos_token_id\":\"x\"}";
  l1k_write_file_atomic(p, gj, strlen(gj), &err);
  CHECK(l1k_config_load(dir, &c, &err) == L1K_EINPUT && strstr(err.msg, "generation_config.json"));
  /* round trip through our own writer */
  CHECK(l1k_config_load_file(shared_path("configs/llama-3.2-1b.json"), &c, &err) == 0);
  char *txt = l1k_config_to_json(&c, "bfloat16");
  l1k_model_config c2;
  CHECK_MSG(parse(txt, &c2, &err) == 0, "%s", err.msg);
  free(txt);
  CHECK(c2.rope_type == 1 && c2.rope_factor == 32.0 && c2.hidden_size == 2048 &&
        c2.tie_word_embeddings == 1 && c2.num_key_value_heads == 8 && c2.rms_norm_eps == 1e-5);
  snprintf(p, sizeof p, "%s", dir);
  l1k_rm_rf(p, &err);
  l1k_config_load(dir, &c, &err);
  CHECK(err.code == L1K_EINPUT);

  /* refusals, each naming the field */
  CHECK(parse("{\"model_type\":\"gemma2\"," BASE "}", &c, &err) == L1K_EUNSUPPORTED &&
        strstr(err.msg, "gemma2") && strstr(err.msg, "cfg.json"));
  CHECK(parse("{" BASE "}", &c, &err) == L1K_EINPUT && strstr(err.msg, "model_type"));
  CHECK(parse("{\"model_type\":\"qwen2\"," BASE ",\"use_sliding_window\":true}", &c, &err) ==
            L1K_EUNSUPPORTED && strstr(err.msg, "use_sliding_window"));
  CHECK(parse("{\"model_type\":\"qwen3\"," BASE ",\"layer_types\":[\"full_attention\",\"sliding_attention\"]}",
              &c, &err) == L1K_EUNSUPPORTED && strstr(err.msg, "layer_types"));
  CHECK(parse("{\"model_type\":\"qwen2\"," BASE ",\"rope_scaling\":{\"type\":\"yarn\",\"factor\":4}}",
              &c, &err) == L1K_EUNSUPPORTED && strstr(err.msg, "yarn"));
  CHECK(parse("{\"model_type\":\"qwen2\"," BASE ",\"rope_parameters\":{\"rope_type\":\"yarn\"}}",
              &c, &err) == L1K_EUNSUPPORTED && strstr(err.msg, "rope_parameters"));
  CHECK(parse("{\"model_type\":\"llama\"," BASE ",\"rope_scaling\":{\"rope_type\":\"dynamic\"}}",
              &c, &err) == L1K_EUNSUPPORTED);
  CHECK(parse("{\"model_type\":\"llama\"," BASE ",\"hidden_act\":\"gelu\"}", &c, &err) ==
            L1K_EUNSUPPORTED && strstr(err.msg, "hidden_act"));
  CHECK(parse("{\"model_type\":\"llama\"," BASE ",\"mlp_bias\":true}", &c, &err) == L1K_EUNSUPPORTED);
  CHECK(parse("{\"model_type\":\"llama\"," BASE ",\"attention_bias\":true}", &c, &err) == L1K_EUNSUPPORTED);
  CHECK(parse("{\"model_type\":\"llama\"," BASE ",\"num_key_value_heads\":3}", &c, &err) ==
            L1K_EINPUT && strstr(err.msg, "num_key_value_heads"));
  CHECK(parse("{\"model_type\":\"llama\",\"vocab_size\":100,\"hidden_size\":30,\"intermediate_size\":64,"
              "\"num_hidden_layers\":2,\"num_attention_heads\":4}", &c, &err) == L1K_EINPUT &&
        strstr(err.msg, "head_dim"));
  CHECK(parse("{\"model_type\":\"llama\"," BASE ",\"head_dim\":7}", &c, &err) == L1K_EINPUT);
  CHECK(parse("{\"model_type\":\"llama\",\"vocab_size\":\"100\",\"hidden_size\":32,\"intermediate_size\":64,"
              "\"num_hidden_layers\":2,\"num_attention_heads\":4}", &c, &err) == L1K_EINPUT &&
        strstr(err.msg, "vocab_size"));
  CHECK(parse("{\"model_type\":\"llama\",\"hidden_size\":32,\"intermediate_size\":64,"
              "\"num_hidden_layers\":2,\"num_attention_heads\":4}", &c, &err) == L1K_EINPUT &&
        strstr(err.msg, "vocab_size"));
  CHECK(parse("{\"model_type\":\"llama\",\"vocab_size\":100,\"hidden_size\":-32,\"intermediate_size\":64,"
              "\"num_hidden_layers\":2,\"num_attention_heads\":4}", &c, &err) == L1K_EINPUT &&
        strstr(err.msg, "hidden_size"));
  CHECK(parse("{\"model_type\":\"llama\"," BASE ",\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8,"
              "\"low_freq_factor\":4,\"high_freq_factor\":1}}", &c, &err) == L1K_EINPUT);
  CHECK(parse("not json", &c, &err) == L1K_EINPUT && strstr(err.msg, "cfg.json"));
  CHECK(parse("{\"model_type\":\"qwen2\"," BASE ",\"eos_token_id\":[1,2,3,4,5,6,7,8,9]}", &c, &err) ==
        L1K_EUNSUPPORTED);
  CHECK_DONE();
}
