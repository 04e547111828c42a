# Installs eigenflow into a scratch prefix and builds downstream/ against it,
# first through find_package(eigenflow CONFIG), then through add_subdirectory.
file(REMOVE_RECURSE ${WORK_DIR})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "failed (${status}): ${ARGN}")
  endif()
endfunction()

set(prefix ${WORK_DIR}/prefix)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/library -G ${GENERATOR}
    -DEIGENFLOW_BUILD_TESTS=OFF -DEIGENFLOW_BUILD_EXAMPLES=OFF -DEIGENFLOW_BUILD_BENCHMARKS=OFF
    -DCMAKE_INSTALL_PREFIX=${prefix})
run(${CMAKE_COMMAND} --install ${WORK_DIR}/library)

foreach(mode package subdirectory)
  if(mode STREQUAL "package")
    set(extra -DCMAKE_PREFIX_PATH=${prefix})
  else()
    set(extra -DUSE_SUBDIRECTORY=ON -DEIGENFLOW_SOURCE=${SOURCE_DIR})
  endif()
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/downstream -B ${WORK_DIR}/${mode} -G ${GENERATOR} ${extra})
  run(${CMAKE_COMMAND} --build ${WORK_DIR}/${mode})
  run(${WORK_DIR}/${mode}/app)
endforeach()
