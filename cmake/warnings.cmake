# lsk_warnings: compile options for lsk's own programs (tests, benchmarks,
# examples). Never attached to lsk::lsk, so consumers keep their own flags.
add_library(lsk_warnings INTERFACE)
target_compile_options(lsk_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wconversion -Wshadow>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${LSK_WARNINGS_AS_ERRORS}>>:-Werror>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${LSK_NATIVE}>>:-march=native>)
if(LSK_SANITIZE)
  target_compile_options(lsk_warnings INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
                                                -fno-sanitize-recover=undefined)
  target_link_options(lsk_warnings INTERFACE -fsanitize=address,undefined)
endif()
