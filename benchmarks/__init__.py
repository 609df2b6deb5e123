"""Side-by-side benchmarks of rnnkit and PyTorch on the CPU (``make bench``)."""
