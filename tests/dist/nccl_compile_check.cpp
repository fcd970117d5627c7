// Compiles the NCCL communicator (no GPU needed, nothing runs): built when the
// lsk::nccl target exists (CUDA enabled and NCCL found). The ring attention
// and data parallelism of lsk/attention/ring.hpp and lsk/dist/data_parallel.hpp
// work on host memory; their device versions belong to the CUDA backend.
#include "lsk/dist/nccl_communicator.hpp"

static_assert(lsk::Communicator<lsk::dist::nccl_communicator>);
