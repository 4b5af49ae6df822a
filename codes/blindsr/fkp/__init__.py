"""FKP algorithms: DIP-FKP, KernelGAN-FKP, prior training and data preparation helpers."""
