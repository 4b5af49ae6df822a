"""blindsr: blind image super-resolution with kernel estimation (MANet, FKP, KULNet)."""
__version__ = '0.1.0'
