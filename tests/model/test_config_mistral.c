/* config.json of model_type "mistral": Llama-like, MistralConfig's defaults (sliding_window 4096,
 * num_key_value_heads 8, max_position_embeddings 131072), an explicit head_dim, sliding_window
 * null or covering every position accepted, a real sliding window refused naming the field;
 * written back as MistralForCausalLM. The numerics are checked against transformers by
 * tests/model/test_parity_mistral.sh. */
#include "check.h"
#include "long1k/model.h"

#define BASE                                                                                     \
  "\"vocab_size\":100,\"hidden_size\":64,\"intermediate_size\":64,\"num_hidden_layers\":2,"      \
  "\"num_attention_heads\":16"

static int parse(const char *json, l1k_model_config *c, l1k_err *err) {
  return l1k_config_parse(json, "cfg.json", c, err);
}

int main(void) {
  l1k_err err = {0};
  l1k_model_config c;
  /* Mistral-7B-v0.3's shape: sliding_window null, explicit head_dim */
  CHECK_MSG(parse("{\"model_type\":\"mistral\"," BASE ",\"num_key_value_heads\":2,\"head_dim\":24,"
                  "\"sliding_window\":null,\"max_position_embeddings\":32768}",
                  &c, &err) == 0,
            "%s", err.msg);
  CHECK_STR(c.model_type, "mistral");
  CHECK(c.head_dim == 24 && c.num_key_value_heads == 2 && !c.attention_bias && !c.qk_norm);
  CHECK(c.max_position_embeddings == 32768 && c.rope_theta == 10000.0 && c.rms_norm_eps == 1e-6);
  CHECK(!c.tie_word_embeddings);
  /* MistralConfig's defaults when the fields are absent */
  CHECK_MSG(parse("{\"model_type\":\"mistral\"," BASE ","
                  "\"sliding_window\":null}", &c, &err) == 0, "%s", err.msg);
  CHECK(c.num_key_value_heads == 8 && c.head_dim == 4 && c.max_position_embeddings == 131072);
  /* a window that covers every position is full attention */
  CHECK_MSG(parse("{\"model_type\":\"mistral\"," BASE ",\"sliding_window\":4096,"
                  "\"max_position_embeddings\":4096}", &c, &err) == 0, "%s", err.msg);
  /* a real sliding window (Mistral-7B-v0.1) is refused, naming the field */
  CHECK(parse("{\"model_type\":\"mistral\"," BASE ",\"sliding_window\":4096,"
              "\"max_position_embeddings\":32768}", &c, &err) == L1K_EUNSUPPORTED &&
        strstr(err.msg, "cfg.json") && strstr(err.msg, "sliding_window") && strstr(err.msg, "4096"));
  /* absent: MistralConfig's default 4096 < 131072 */
  CHECK(parse("{\"model_type\":\"mistral\"," BASE "}", &c, &err) == L1K_EUNSUPPORTED &&
        strstr(err.msg, "sliding_window") && strstr(err.msg, "default"));
  CHECK(parse("{\"model_type\":\"mistral\"," BASE ",\"sliding_window\":\"x\"}", &c, &err) ==
            L1K_EINPUT && strstr(err.msg, "sliding_window"));
  CHECK(parse("{\"model_type\":\"mistral\"," BASE ",\"sliding_window\":null,\"attention_bias\":true}",
              &c, &err) == L1K_EUNSUPPORTED && strstr(err.msg, "attention_bias"));
  /* written back: MistralForCausalLM, no attention_bias / use_sliding_window, and it reads back */
  CHECK(parse("{\"model_type\":\"mistral\"," BASE ",\"head_dim\":24,\"sliding_window\":null,"
              "\"max_position_embeddings\":512}", &c, &err) == 0);
  char *js = l1k_config_to_json(&c, "float32");
  CHECK(js && strstr(js, "\"MistralForCausalLM\"") && strstr(js, "\"sliding_window\": null") &&
        !strstr(js, "use_sliding_window") && !strstr(js, "attention_bias"));
  l1k_model_config c2;
  CHECK_MSG(js && parse(js, &c2, &err) == 0, "%s", err.msg);
  CHECK(c2.head_dim == 24 && c2.max_position_embeddings == 512 && !strcmp(c2.model_type, "mistral"));
  free(js);
  CHECK_DONE();
}
