"""Fine-tuning: planner training data, LoRA fine-tuning and GGUF export, GRPO training of the scaling policy."""
