"""Writes tiny llama, qwen3, qwen3_moe and mixtral checkpoints with
transformers' save_pretrained (bf16 weights) next to this script, for the
import tests of the plain-transformer families. Needs torch and transformers
only to regenerate; the tests read the committed files.
"""
import os

import torch
from transformers import AutoConfig, AutoModelForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
COMMON = dict(vocab_size=50, hidden_size=24, intermediate_size=40,
              num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
FAMILIES = {
    "llama": dict(head_dim=6),
    "qwen3": dict(head_dim=8),
    "qwen3_moe": dict(head_dim=8, num_experts=4, num_experts_per_tok=2,
                      moe_intermediate_size=12, mlp_only_layers=[1]),
    "mixtral": dict(num_local_experts=4, num_experts_per_tok=2),
}

if __name__ == "__main__":
    torch.manual_seed(0)
    for model_type, extra in FAMILIES.items():
        config = AutoConfig.for_model(model_type, **COMMON, **extra)
        model = AutoModelForCausalLM.from_config(config).to(torch.bfloat16)
        model.save_pretrained(os.path.join(HERE, model_type + "_tiny"))
        print(model_type, sum(p.numel() for p in model.parameters()))
