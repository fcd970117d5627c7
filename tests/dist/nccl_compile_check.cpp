// Compiles the NCCL communicator (no GPU needed, nothing runs): built when the
// lsk::nccl target exists (CUDA enabled and NCCL found). The ring attention
// and data parallelism of lsk/attention/ring.hpp and lsk/dist/data_parallel.hpp
// work on host memory; their device versions belong to the CUDA backend.
#include "lsk/dist/nccl_communicator.hpp"

static_assert(lsk::Communicator<lsk::dist::nccl_communicator>);

#if defined(LSK_HAS_MPI)
#include "lsk/dist/nccl_bootstrap.hpp"

// Instantiates the bootstrap (never called here).
[[maybe_unused]] static lsk::dist::nccl_communicator bootstrap(const lsk::dist::mpi_communicator& mpi) {
  return lsk::dist::nccl_from_mpi(mpi.split(mpi.rank() / 2, mpi.rank()));
}
#endif
