/* The LoRA / freeze keys of the training configuration: LLaMA-Factory's defaults (lora_rank 8,
 * lora_dropout 0 (p < 1),
 * lora_alpha 2 x rank filled in by finish, lora_target all, freeze_trainable_layers 2,
 * freeze_trainable_modules all), PEFT's modules_to_save as an alias of additional_target, and
 * the refusals (one line each). */
#include "check.h"
#include "long1k/train.h"

static void base(l1k_train_config *c) {
  l1k_train_config_default(c);
  l1k_err err = {0};
  char mdir[600];
  snprintf(mdir, sizeof mdir, "%s", shared_path("golden/models/llama_tiny/f32"));
  CHECK(l1k_train_config_set(c, "model_name_or_path", mdir, "t", &err) == 0);
  CHECK(l1k_train_config_set(c, "dataset", "x.jsonl", "t", &err) == 0);
  CHECK(l1k_train_config_set(c, "output_dir", "/tmp/x", "t", &err) == 0);
}

int main(void) {
  l1k_train_config c;
  l1k_err err = {0};
  base(&c);
  CHECK_STR(c.finetuning_type, "lora"); /* LLaMA-Factory's default */
  CHECK(c.lora_rank == 8 && c.lora_alpha == 0 && c.lora_dropout == 0 && !c.use_rslora);
  CHECK_STR(c.lora_target, "all");
  CHECK(c.freeze_trainable_layers == 2);
  CHECK_STR(c.freeze_trainable_modules, "all");
  CHECK(c.additional_target == NULL && c.adapter_name_or_path == NULL && !c.create_new_adapter);
  CHECK_MSG(l1k_train_config_finish(&c, &err) == 0, "%s", err.msg);
  CHECK(c.lora_alpha == 16); /* 2 x lora_rank */
  l1k_train_config_free(&c);
  base(&c);
  CHECK(l1k_train_config_set(&c, "finetuning_type", "full", "t", &err) == 0);
  CHECK(l1k_train_config_finish(&c, &err) == 0);
  CHECK(c.lora_alpha == 0); /* full: the LoRA keys are left alone */
  l1k_train_config_free(&c);
  base(&c); /* the paper's recipe is full fine-tuning */
  CHECK(l1k_train_config_set(&c, "recipe", "long1k", "t", &err) == 0);
  CHECK(l1k_train_config_finish(&c, &err) == 0);
  CHECK_STR(c.finetuning_type, "full");
  l1k_train_config_free(&c);

  base(&c);
  CHECK(l1k_train_config_set(&c, "finetuning_type", "lora", "t", &err) == 0);
  CHECK(l1k_train_config_set(&c, "lora_rank", "4", "t", &err) == 0);
  CHECK(l1k_train_config_finish(&c, &err) == 0);
  CHECK(c.lora_alpha == 8);
  CHECK(l1k_train_config_set(&c, "lora_alpha", "5", "t", &err) == 0);
  CHECK(l1k_train_config_set(&c, "modules_to_save", "lm_head", "t", &err) == 0);
  CHECK(l1k_train_config_set(&c, "use_rslora", "true", "t", &err) == 0);
  CHECK(l1k_train_config_finish(&c, &err) == 0);
  CHECK(c.lora_alpha == 5 && c.use_rslora);
  CHECK_STR(c.additional_target, "lm_head");
  char *dump = l1k_train_config_dump(&c);
  CHECK(dump && strstr(dump, "finetuning_type: \"lora\"") && strstr(dump, "lora_alpha: 5"));
  free(dump);
  CHECK(l1k_train_config_set(&c, "lora_dropout", "0.1", "t", &err) == 0);
  CHECK(l1k_train_config_finish(&c, &err) == 0 && c.lora_dropout == 0.1);
  CHECK(l1k_train_config_set(&c, "lora_dropout", "1", "t", &err) == 0);
  CHECK(l1k_train_config_finish(&c, &err) == L1K_EINPUT);
  CHECK(strstr(err.msg, "lora_dropout: 1 (expected 0 <= p < 1)") != NULL);
  CHECK(l1k_train_config_set(&c, "lora_dropout", "-0.1", "t", &err) == L1K_EINPUT);
  CHECK(l1k_train_config_set(&c, "lora_dropout", "0", "t", &err) == 0);
  CHECK(l1k_train_config_set(&c, "additional_target", "embed_tokens,wte", "t", &err) == 0);
  CHECK(l1k_train_config_finish(&c, &err) == L1K_EINPUT);
  CHECK(strstr(err.msg, "additional_target: unknown module 'wte'") != NULL);
  CHECK(l1k_train_config_set(&c, "finetuning_type", "oft", "t", &err) == L1K_EINPUT);
  CHECK(strstr(err.msg, "'oft' is not one of full|lora|freeze") != NULL);
  CHECK(l1k_train_config_set(&c, "lora_rank", "0", "t", &err) == L1K_EINPUT);
  l1k_train_config_free(&c);

  base(&c);
  CHECK(l1k_train_config_set(&c, "finetuning_type", "full", "t", &err) == 0);
  CHECK(l1k_train_config_set(&c, "adapter_name_or_path", "some/adapter", "t", &err) == 0);
  CHECK(l1k_train_config_finish(&c, &err) == L1K_EINPUT);
  CHECK(strstr(err.msg, "adapter_name_or_path: needs finetuning_type: lora") != NULL);
  CHECK(l1k_train_config_set(&c, "finetuning_type", "freeze", "t", &err) == 0);
  CHECK(l1k_train_config_set(&c, "adapter_name_or_path", "null", "t", &err) == 0);
  CHECK(l1k_train_config_set(&c, "freeze_trainable_layers", "-3", "t", &err) == 0);
  CHECK(l1k_train_config_finish(&c, &err) == 0);
  CHECK(c.freeze_trainable_layers == -3);
  l1k_train_config_free(&c);
  CHECK_DONE();
}
