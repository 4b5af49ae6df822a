"""The cross-method benchmark: estimators, restorers, protocols.

Puts the kernel estimators and non-blind restorers of the method packages (MANet, FKP, KULNet)
on one table. Methods disagree on how a kernel array maps onto the image, so every kernel that
crosses from one method to another goes through ``kernel_conventions`` first, and kernel
accuracy is always measured in its one reference convention.
"""
