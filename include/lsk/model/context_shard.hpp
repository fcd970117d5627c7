// lsk/model/context_shard.hpp: one rank's part of a batch under context
// parallelism (lsk/attention/context_parallel.hpp).
//
// context_shard(batch, rank, ranks) keeps, of every sequence, the zigzag shard
// of ring attention (lsk/attention/ring.hpp): chunks rank and 2*ranks-1-rank of
// 2*ranks equal chunks, in that order. Tokens, targets, loss mask, positions
// and document ids are all taken along, so the shard's RoPE positions are the
// tokens' positions in the whole sequence and its loss is its tokens' share of
// the whole batch's loss. seq_len must be a multiple of 2*ranks.
// gather_context_documents is the way back for document ids: every rank's
// shard ids -> the ids of its rows' whole sequences (one all-reduce).
#pragma once

#include <cstddef>
#include <span>
#include <type_traits>

#include <vector>

#include "lsk/attention/ring.hpp"
#include "lsk/dist/communicator.hpp"
#include "lsk/model/token_batch.hpp"

namespace lsk::model {

inline token_batch context_shard(const token_batch& b, int rank, int ranks) {
  if (ranks <= 0 || rank < 0 || rank >= ranks) {
    raise<shape_error>("context_shard: rank ", rank, " of ", ranks, " ranks");
  }
  if (b.seq_len % (2 * ranks) != 0) {
    raise<shape_error>("context_shard: sequences of ", b.seq_len, " tokens do not split over ", ranks,
                       " context-parallel ranks (the length must be a multiple of 2 * ranks = ", 2 * ranks, ")");
  }
  const attention::ring_shape s{b.seq_len, 1, 1, 1, ranks};
  token_batch out(b.batch, s.local_len());
  const auto shard = [&](const auto& from, auto& to) {
    using T = std::remove_cvref_t<decltype(*from.data())>;
    for (index_t r = 0; r < b.batch; ++r) {
      attention::zigzag_shard<T>(s, rank,
                                 std::span<const T>(from.data() + r * b.seq_len, static_cast<std::size_t>(b.seq_len)),
                                 std::span<T>(to.data() + r * s.local_len(), static_cast<std::size_t>(s.local_len())));
    }
  };
  shard(b.tokens, out.tokens);
  shard(b.targets, out.targets);
  shard(b.positions, out.positions);
  shard(b.loss_mask, out.loss_mask);
  if (b.has_documents()) {
    out.documents = tensor<std::int32_t>(shape{out.size()}, 0);
    shard(b.documents, out.documents);
  }
  return out;
}

// The document ids of the whole sequences whose shards `shard` holds: (batch *
// seq_len * ranks) ids, row by row. Collective over comm (every rank writes
// its tokens' ids into zeroed rows, then one f64 all-reduce; ids are exact in f64).
template <Communicator C>
tensor<std::int32_t> gather_context_documents(C& comm, const token_batch& shard) {
  const int ranks = comm.size();
  const attention::ring_shape s{shard.seq_len * ranks, 1, 1, 1, ranks};
  std::vector<double> local(shard.documents.values().begin(), shard.documents.values().end());
  std::vector<double> whole(static_cast<std::size_t>(shard.batch * s.seq_len), 0.0);
  for (index_t r = 0; r < shard.batch; ++r) {
    attention::zigzag_unshard<double>(
        s, comm.rank(),
        std::span<const double>(local.data() + r * shard.seq_len, static_cast<std::size_t>(shard.seq_len)),
        std::span<double>(whole.data() + r * s.seq_len, static_cast<std::size_t>(s.seq_len)));
  }
  comm.all_reduce_sum(std::span<double>(whole));
  tensor<std::int32_t> out(shape{shard.batch * s.seq_len});
  for (std::size_t i = 0; i < whole.size(); ++i) out.values()[i] = static_cast<std::int32_t>(whole[i]);
  return out;
}

}  // namespace lsk::model
