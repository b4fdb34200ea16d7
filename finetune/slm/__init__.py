"""Planner SLM fine-tuning: training data from the tool contract, LoRA training, GGUF adapter export."""
