// LoRA's settings (Hu et al. 2021, as HF PEFT's LoraConfig), the Llama projections an adapter can
// attach to, and their PEFT module paths: the one place every LoRA user (models/lora_apply.h for a
// LibTorch Llama, distributed/fsdp_llama.h for the sharded one, the [lora] config section, the
// PEFT adapter files) takes them from.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace llamarec {

struct LoraConfig {
  int64_t r = 8;
  double alpha = 32.0;
  double dropout = 0.05;
  std::vector<std::string> target_modules = {"q_proj", "v_proj"};  // LlamaRec's

  double scaling() const { return alpha / static_cast<double>(r); }

  // The [lora] config section (pipelines/config.h): key, field, description.
  template <class V>
  void visit(V& v) {
    v("r", r, "LoRA rank");
    v("alpha", alpha, "LoRA alpha (scaling = alpha / r)");
    v("dropout", dropout, "dropout on the LoRA input");
    v("target_modules", target_modules, "projections that get an adapter (--set lora.target_modules=q_proj,v_proj)");
  }
};

// q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj: every decoder-layer projection.
const std::vector<std::string>& llama_projection_names();
// "model.layers.<layer>.self_attn.q_proj" / "model.layers.<layer>.mlp.up_proj" (HF and PEFT names).
std::string llama_projection_path(int64_t layer, const std::string& projection);

// Unknown target names, no targets, r <= 0, alpha <= 0 and dropout outside [0, 1) are errors that
// start with `where` (a file and section, or "LoRA").
void validate_lora_config(const LoraConfig& config, const std::string& where = "LoRA");

}  // namespace llamarec
