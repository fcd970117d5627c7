// lsk/dist/nccl_bootstrap.hpp: NCCL communicators for the processes of an MPI
// job (mpirun on one node or many), one GPU per process.
//
//   lsk::dist::mpi_environment env(argc, argv);
//   lsk::dist::mpi_communicator mpi;
//   auto nccl = lsk::dist::nccl_from_mpi(mpi);          // GPU: local rank mod device count
//   auto group = lsk::dist::nccl_from_mpi(mpi.split(mpi.rank() / P, mpi.rank()));  // e.g. a context group
//
// Rank 0 of the MPI communicator creates the NCCL unique id (ncclGetUniqueId)
// and broadcasts its bytes (MPI_Bcast); every rank then joins with
// ncclCommInitRank at its MPI rank. The device is the process's rank among the
// processes of its host (MPI_Comm_split_type, MPI_COMM_TYPE_SHARED) modulo the
// visible device count, unless given. Needs both lsk::mpi and lsk::nccl.
#pragma once

#include <cuda_runtime_api.h>
#include <mpi.h>
#include <nccl.h>

#include "lsk/dist/mpi_communicator.hpp"
#include "lsk/dist/nccl_communicator.hpp"

namespace lsk::dist {

// This process's rank among the processes of the communicator on its host.
inline int local_rank(const mpi_communicator& comm) {
  MPI_Comm host = MPI_COMM_NULL;
  mpi_detail::check(MPI_Comm_split_type(comm.native(), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &host),
                    "MPI_Comm_split_type");
  int rank = 0;
  const int code = MPI_Comm_rank(host, &rank);
  MPI_Comm_free(&host);
  mpi_detail::check(code, "MPI_Comm_rank");
  return rank;
}

// An NCCL communicator over the same ranks as `mpi` (collective over mpi).
// device < 0: local_rank(mpi) modulo cudaGetDeviceCount.
inline nccl_communicator nccl_from_mpi(const mpi_communicator& mpi, int device = -1, cudaStream_t stream = nullptr) {
  if (device < 0) {
    int count = 0;
    nccl_detail::check(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
    if (count <= 0) raise<error>("nccl_from_mpi: no CUDA device visible to rank ", mpi.rank());
    device = local_rank(mpi) % count;
  }
  ncclUniqueId id{};
  if (mpi.rank() == 0) nccl_detail::check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  mpi_detail::check(MPI_Bcast(&id, static_cast<int>(sizeof id), MPI_BYTE, 0, mpi.native()), "MPI_Bcast");
  return nccl_communicator(id, mpi.rank(), mpi.size(), device, stream);
}

}  // namespace lsk::dist
