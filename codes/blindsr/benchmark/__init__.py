"""The cross-method benchmark: estimators, restorers, protocols (``codes/benchmark.py``).

Puts the kernel estimators and non-blind restorers of the method packages (MANet, FKP, KULNet)
on one table. Methods disagree on how a kernel array maps onto the image, so every kernel that
crosses from one method to another goes through ``kernel_conventions`` first, and kernel
accuracy is always measured in its one reference convention.

Modules: ``parts`` (the contract and the three registries), ``*_estimator`` / ``*_restorer`` /
``*_method`` (the registered parts), ``methods`` (option-file names -> checked methods),
``testsets`` (prepared sets), ``scoring`` (per-item metrics), ``costs`` (time and memory),
``store`` (one JSON per item), ``runner`` (plan, shard, run, report), ``report`` (CSV, table),
``figures`` (quality-vs-time plots, crop grids), ``options`` (the option file).
"""
