"""Fine-tuning and alignment on TRL + PEFT + accelerate: SFT, DPO, reward model, GRPO, merge."""
