# Sourced by the benchmarks that run PyTorch. OpenBLAS picks its kernel from the
# CPU model; on a VM that hides the model (seen: an AVX-512 Xeon reported as
# "Intel(R) Xeon(R) Processor") it falls back to Prescott, SSE3, and PyTorch's
# SGEMM drops 4x. Name the core from the CPU's flags instead, so PyTorch always
# gets the widest kernel this CPU runs.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
fi
