"""Training and testing machinery shared by all models: loop, checkpoints, distributed set-up."""
