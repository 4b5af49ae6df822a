"""blindsr: blind image super-resolution with kernel estimation (MANet, FKP, KULNet)."""
import os

__version__ = '0.1.0'

# OpenMP threads that spin between operations steal the CPU from each other and from any other
# process on a shared machine (measured 10-100x slower); sleeping threads cost next to nothing here.
# It only takes effect when set before torch is first imported, so every entry point imports
# blindsr first; a value the user set wins.
os.environ.setdefault('OMP_WAIT_POLICY', 'PASSIVE')
