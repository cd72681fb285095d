"""The benchmark models: ~150-340M parameters each, with the hybrid
structure of the real models. Shared by the benchmarks in this folder."""

CONFIGS = {
    # ~150M parameters each, the hybrid structure of the real models.
    "qwen3_next": dict(vocab_size=32000, hidden_size=1024, num_hidden_layers=8,
                       num_attention_heads=8, num_key_value_heads=2, head_dim=128,
                       linear_num_key_heads=8, linear_num_value_heads=16,
                       linear_key_head_dim=64, linear_value_head_dim=64,
                       num_experts=32, num_experts_per_tok=4, moe_intermediate_size=256,
                       shared_expert_intermediate_size=256, full_attention_interval=4),
    "jamba": dict(vocab_size=32000, hidden_size=1024, num_hidden_layers=8,
                  num_attention_heads=8, num_key_value_heads=2, intermediate_size=2048,
                  num_experts=8, num_experts_per_tok=2, attn_layer_period=4,
                  attn_layer_offset=2, expert_layer_period=2, expert_layer_offset=1,
                  use_mamba_kernels=False),
    "deepseek_v3": dict(vocab_size=32000, hidden_size=1024, num_hidden_layers=8,
                        num_attention_heads=8, num_key_value_heads=8, q_lora_rank=384,
                        kv_lora_rank=256, qk_nope_head_dim=64, qk_rope_head_dim=32,
                        v_head_dim=64, intermediate_size=2816, moe_intermediate_size=256,
                        n_routed_experts=32, num_experts_per_tok=4, n_group=4,
                        topk_group=2, n_shared_experts=1, first_k_dense_replace=1),
}
