# Optional SentencePiece trainer support (Debian: libsentencepiece-dev ships
# libsentencepiece_train.so and sentencepiece_trainer.h next to the processor).
#
# Needs lsk_sentencepiece (cmake/sentencepiece.cmake). When the trainer library
# is found, defines the INTERFACE target lsk_sentencepiece_train (alias
# lsk::sentencepiece_train): lsk::sentencepiece plus the trainer library and
# the compile definition LSK_HAS_SENTENCEPIECE_TRAINER, which
# lsk/data/sentencepiece_trainer.hpp needs. Sets LSK_HAS_SENTENCEPIECE_TRAINER.
set(LSK_HAS_SENTENCEPIECE_TRAINER OFF)
if(TARGET lsk_sentencepiece)
  find_path(LSK_SENTENCEPIECE_TRAINER_INCLUDE_DIR NAMES sentencepiece_trainer.h
            HINTS ${LSK_PC_SENTENCEPIECE_INCLUDE_DIRS})
  find_library(LSK_SENTENCEPIECE_TRAINER_LIBRARY NAMES sentencepiece_train
               HINTS ${LSK_PC_SENTENCEPIECE_LIBRARY_DIRS})
  if(LSK_SENTENCEPIECE_TRAINER_INCLUDE_DIR AND LSK_SENTENCEPIECE_TRAINER_LIBRARY)
    set(LSK_HAS_SENTENCEPIECE_TRAINER ON)
    add_library(lsk_sentencepiece_train INTERFACE)
    add_library(lsk::sentencepiece_train ALIAS lsk_sentencepiece_train)
    target_link_libraries(lsk_sentencepiece_train INTERFACE lsk_sentencepiece "${LSK_SENTENCEPIECE_TRAINER_LIBRARY}")
    target_include_directories(lsk_sentencepiece_train SYSTEM INTERFACE "${LSK_SENTENCEPIECE_TRAINER_INCLUDE_DIR}")
    target_compile_definitions(lsk_sentencepiece_train INTERFACE LSK_HAS_SENTENCEPIECE_TRAINER)
  endif()
endif()
message(STATUS "lsk: SentencePiece trainer: ${LSK_HAS_SENTENCEPIECE_TRAINER}")
