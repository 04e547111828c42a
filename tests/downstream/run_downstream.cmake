# Builds downstream/ against eigenflow: installed into a scratch prefix and found
# through find_package(eigenflow CONFIG) (MODE=package), or through add_subdirectory
# (MODE=subdirectory).
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "failed (${status}): ${ARGN}")
  endif()
endfunction()

# (one ctest entry per mode, so that the two run side by side)
set(work ${WORK_DIR}/${MODE})
file(REMOVE_RECURSE ${work})
if(MODE STREQUAL "package")
  set(prefix ${work}/prefix)
  run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${work}/library -G ${GENERATOR}
      -DEIGENFLOW_BUILD_TESTS=OFF -DEIGENFLOW_BUILD_EXAMPLES=OFF -DEIGENFLOW_BUILD_BENCHMARKS=OFF
      -DCMAKE_INSTALL_PREFIX=${prefix})
  run(${CMAKE_COMMAND} --install ${work}/library)
  set(extra -DCMAKE_PREFIX_PATH=${prefix})
elseif(MODE STREQUAL "subdirectory")
  set(extra -DUSE_SUBDIRECTORY=ON -DEIGENFLOW_SOURCE=${SOURCE_DIR})
else()
  message(FATAL_ERROR "MODE must be package or subdirectory, found '${MODE}'")
endif()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/downstream -B ${work}/app -G ${GENERATOR} ${extra})
run(${CMAKE_COMMAND} --build ${work}/app)
run(${work}/app/app)
