# Optional SentencePiece support (Debian: libsentencepiece-dev).
#
# LSK_SENTENCEPIECE: AUTO (use it when found), ON (required) or OFF.
# When found, defines the INTERFACE target lsk_sentencepiece (alias
# lsk::sentencepiece): lsk::lsk plus the library, its include directory and the
# compile definition LSK_HAS_SENTENCEPIECE, which lets lsk/recipe.hpp include
# lsk/data/sentencepiece_tokenizer.hpp. Sets LSK_HAS_SENTENCEPIECE ON or OFF.
set(LSK_SENTENCEPIECE AUTO CACHE STRING "SentencePiece tokenizer support: AUTO (when found), ON or OFF")
set_property(CACHE LSK_SENTENCEPIECE PROPERTY STRINGS AUTO ON OFF)

set(LSK_HAS_SENTENCEPIECE OFF)
if(NOT LSK_SENTENCEPIECE STREQUAL "OFF")
  # pkg-config (sentencepiece.pc) gives the directories when present; only the
  # processor library is linked, not the trainer that the .pc file also lists.
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(LSK_PC_SENTENCEPIECE QUIET sentencepiece)
  endif()
  find_path(LSK_SENTENCEPIECE_INCLUDE_DIR NAMES sentencepiece_processor.h
            HINTS ${LSK_PC_SENTENCEPIECE_INCLUDE_DIRS})
  find_library(LSK_SENTENCEPIECE_LIBRARY NAMES sentencepiece
               HINTS ${LSK_PC_SENTENCEPIECE_LIBRARY_DIRS})
  if(LSK_SENTENCEPIECE_INCLUDE_DIR AND LSK_SENTENCEPIECE_LIBRARY)
    set(LSK_HAS_SENTENCEPIECE ON)
    add_library(lsk_sentencepiece INTERFACE)
    add_library(lsk::sentencepiece ALIAS lsk_sentencepiece)
    target_link_libraries(lsk_sentencepiece INTERFACE lsk::lsk "${LSK_SENTENCEPIECE_LIBRARY}")
    target_include_directories(lsk_sentencepiece SYSTEM INTERFACE "${LSK_SENTENCEPIECE_INCLUDE_DIR}")
    target_compile_definitions(lsk_sentencepiece INTERFACE LSK_HAS_SENTENCEPIECE)
  elseif(LSK_SENTENCEPIECE STREQUAL "ON")
    message(FATAL_ERROR "LSK_SENTENCEPIECE=ON but SentencePiece (libsentencepiece-dev) was not found")
  endif()
endif()
message(STATUS "lsk: SentencePiece tokenizer: ${LSK_HAS_SENTENCEPIECE}")
