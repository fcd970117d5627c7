// lsk/data.hpp: the data pipeline: the Tokenizer concept, UTF-8 checks and the
// tokenizers; corpus readers, the synthesizers (CIP, SynL, needle, SFT) and
// packing. The SentencePiece tokenizer is included only when the build links
// lsk::sentencepiece, which defines LSK_HAS_SENTENCEPIECE, and its trainer only
// with lsk::sentencepiece_train (LSK_HAS_SENTENCEPIECE_TRAINER).
#pragma once

#include "lsk/concepts/synthesizer.hpp"
#include "lsk/concepts/tokenizer.hpp"
#include "lsk/data/any_synthesizer.hpp"
#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/data/chat.hpp"
#include "lsk/data/cip.hpp"
#include "lsk/data/corpus.hpp"
#include "lsk/data/needle.hpp"
#include "lsk/data/packing.hpp"
#include "lsk/data/sample.hpp"
#include "lsk/data/sft.hpp"
#include "lsk/data/synl.hpp"
#include "lsk/data/tokenized_corpus.hpp"
#include "lsk/data/utf8.hpp"
#if defined(LSK_HAS_SENTENCEPIECE)
#include "lsk/data/sentencepiece_tokenizer.hpp"
#endif
#if defined(LSK_HAS_SENTENCEPIECE_TRAINER)
#include "lsk/data/sentencepiece_trainer.hpp"
#endif
