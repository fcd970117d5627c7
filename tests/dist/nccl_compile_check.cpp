// Compiles the NCCL communicator and the generic code over it (ring attention,
// data parallelism) without running anything: built when lsk::nccl exists.
#include "lsk/attention/ring.hpp"
#include "lsk/dist/data_parallel.hpp"
#include "lsk/dist/nccl_communicator.hpp"

static_assert(lsk::Communicator<lsk::dist::nccl_communicator>);

// Instantiate the generic entry points for the NCCL communicator.
template void lsk::dist::all_reduce_gradients<lsk::dist::nccl_communicator, float>(
    lsk::dist::nccl_communicator&, lsk::model::llama_weights<float>&, lsk::dist::gradient_reduction);
