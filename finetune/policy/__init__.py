"""The replica-scaling policy: environment over the simulator, reward, baselines, GRPO and PPO training."""
