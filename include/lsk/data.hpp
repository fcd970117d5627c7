// lsk/data.hpp: the data pipeline: the Tokenizer concept, UTF-8 checks and the
// tokenizers. The SentencePiece tokenizer is included only when the build links
// lsk::sentencepiece, which defines LSK_HAS_SENTENCEPIECE.
#pragma once

#include "lsk/concepts/tokenizer.hpp"
#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/data/utf8.hpp"
#if defined(LSK_HAS_SENTENCEPIECE)
#include "lsk/data/sentencepiece_tokenizer.hpp"
#endif
