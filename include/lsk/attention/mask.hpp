// lsk/attention/mask.hpp: which keys a query may see.
//
// Every attention in lsk is causal: with q_len queries and k_len keys per
// sequence (k_len >= q_len, bottom-right aligned as with a KV cache), query i
// sees key j only when j <= i + (k_len - q_len). Two modes on top of that:
//  - plain causal (documents empty): every earlier token is visible, also
//    across document boundaries inside one packed sample (what CIP wants:
//    chunks of different documents in one sample attend to each other);
//  - document-masked (documents: (batch * k_len) ids): query i additionally
//    sees key j only when documents[j] == documents[i + k_len - q_len], so no
//    token attends across a document boundary of a packed sequence. Position
//    resets per document are the caller's (token_batch::set_documents).
// Document ids are arbitrary int32 labels compared for equality; documents
// need not be contiguous or sorted.
#pragma once

#include <cstdint>
#include <limits>

#include "lsk/core/error.hpp"
#include "lsk/core/tensor_view.hpp"

namespace lsk::attention {

struct attention_mask {
  const_view<std::int32_t> documents;  // empty: plain causal; else (batch * k_len) document ids

  bool by_document() const { return documents.data() != nullptr && documents.numel() > 0; }
};

inline attention_mask causal_mask() { return {}; }
inline attention_mask document_mask(const_view<std::int32_t> documents) { return {documents}; }

template <class T>
inline constexpr T minus_infinity = -std::numeric_limits<T>::infinity();

}  // namespace lsk::attention
