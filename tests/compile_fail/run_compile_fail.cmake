# cmake -DCOMPILER=... -DSOURCE=... -DINCLUDE_DIR=... -DMAX_LINES=N -P run_compile_fail.cmake
set(flags -std=c++20 -fsyntax-only -I${INCLUDE_DIR})

execute_process(COMMAND ${COMPILER} ${flags} ${SOURCE} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(diagnostics "${out}${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} compiled, but it must fail")
endif()

string(REGEX MATCHALL "error:" errors "${diagnostics}")
list(LENGTH errors error_count)
string(REGEX MATCHALL "\n" newlines "${diagnostics}")
list(LENGTH newlines line_count)
message("---- ${COMPILER}: ${error_count} error(s), ${line_count} lines ----\n${diagnostics}")

if(NOT error_count EQUAL 1)
  message(FATAL_ERROR "expected exactly one error, got ${error_count}")
endif()
if(line_count GREATER MAX_LINES)
  message(FATAL_ERROR "the message has ${line_count} lines; at most ${MAX_LINES} are promised")
endif()

file(STRINGS ${SOURCE} expectations REGEX "^// EXPECT: ")
if(NOT expectations)
  message(FATAL_ERROR "${SOURCE} has no // EXPECT: lines")
endif()
foreach(line IN LISTS expectations)
  string(REGEX REPLACE "^// EXPECT: " "" pattern "${line}")
  if(NOT diagnostics MATCHES "${pattern}")
    message(FATAL_ERROR "the message does not contain: ${pattern}")
  endif()
endforeach()

# The control: with the mistake fixed the same file compiles.
execute_process(COMMAND ${COMPILER} ${flags} -DTYPENET_EXPECT_SUCCESS ${SOURCE} RESULT_VARIABLE rc
                OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "with TYPENET_EXPECT_SUCCESS the case must compile, but:\n${out}${err}")
endif()
