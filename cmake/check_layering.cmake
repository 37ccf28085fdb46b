# Fails the build when a file includes from a folder above its own. The folders and their order
# come from PROBE_LAYERS (set by the top-level CMakeLists.txt), lowest first:
#   util <- config <- checks <- engine <- deploy <- exporters <- serve <- cli
# A file may include from its own folder and from folders to its left, never to its right, so
# the pure parts (util, config, the checks) never grow a dependency on the sidecar or the CLI.
# Static libraries alone would not catch this: the final link sees every library.
#
# Run as: cmake -DSOURCE_DIR=... -DLAYERS=util,config,... -DSTAMP=... -P check_layering.cmake
cmake_minimum_required(VERSION 3.25)
string(REPLACE "," ";" LAYERS "${LAYERS}")

# The folder of a path relative to the source tree: probe/<layer>/... or exporters/...
function(layer_of path out)
  if(path MATCHES "^exporters/")
    set(${out} exporters PARENT_SCOPE)
  elseif(path MATCHES "^probe/([a-z_]+)/")
    set(${out} ${CMAKE_MATCH_1} PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

set(problems "")
file(GLOB_RECURSE sources RELATIVE ${SOURCE_DIR}
     ${SOURCE_DIR}/probe/*.cpp ${SOURCE_DIR}/probe/*.hpp ${SOURCE_DIR}/probe/*.in
     ${SOURCE_DIR}/exporters/*.cpp ${SOURCE_DIR}/exporters/*.hpp)
foreach(source ${sources})
  layer_of(${source} mine)
  list(FIND LAYERS "${mine}" my_rank)
  if(my_rank EQUAL -1)
    continue() # probe/main.cpp: above every folder
  endif()
  file(STRINGS ${SOURCE_DIR}/${source} includes REGEX "^#include \"")
  foreach(line ${includes})
    string(REGEX REPLACE "^#include \"([^\"]+)\".*" "\\1" included "${line}")
    layer_of(${included} theirs)
    list(FIND LAYERS "${theirs}" their_rank)
    if(their_rank GREATER my_rank)
      string(APPEND problems "  ${source}: includes ${included} (${mine} may not depend on ${theirs})\n")
    endif()
  endforeach()
endforeach()

if(problems)
  message(FATAL_ERROR "includes against the folder order (${LAYERS}):\n${problems}"
                      "Move the shared piece down to the lowest folder that needs it.")
endif()
file(TOUCH ${STAMP})
