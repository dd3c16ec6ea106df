# dss-scenario's tests, included from tests/CMakeLists.txt (so they sit beside the others):
#   tests/unit/test_scenario_*.c   cmocka programs linked with dss_scenario_core
#   tests/fuzz/fuzz_scenario*.c    libFuzzer targets (-DDSS_FUZZ=ON), corpus tests/fuzz/corpus/NAME
# DSS_SOURCE_DIR finds scenarios/ and fixtures/, DSS_BIN_DIR the built programs.
set(DSS_SCN_TESTS_DIR ${CMAKE_SOURCE_DIR}/tests)
file(GLOB DSS_SCN_UNIT_TESTS CONFIGURE_DEPENDS ${DSS_SCN_TESTS_DIR}/unit/test_scenario_*.c)
foreach(src ${DSS_SCN_UNIT_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE dss_scenario_core PkgConfig::CMOCKA)
  target_compile_definitions(${name} PRIVATE DSS_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
                             DSS_BIN_DIR="${CMAKE_BINARY_DIR}/bin")
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME unit/${name} COMMAND ${name})
  set_tests_properties(unit/${name} PROPERTIES LABELS unit TIMEOUT 120)
endforeach()

if(DSS_FUZZ)
  file(GLOB DSS_SCN_FUZZERS CONFIGURE_DEPENDS ${DSS_SCN_TESTS_DIR}/fuzz/fuzz_scenario*.c)
  foreach(src ${DSS_SCN_FUZZERS})
    get_filename_component(name ${src} NAME_WE)
    add_executable(${name} ${src})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE dss_scenario_core)
    set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
    set(corpus ${DSS_SCN_TESTS_DIR}/fuzz/corpus/${name})
    set(scratch ${CMAKE_BINARY_DIR}/fuzz/${name}.scratch)
    add_test(NAME fuzz/${name}
             COMMAND sh -c "mkdir -p '${scratch}' && exec '$<TARGET_FILE:${name}>' -max_total_time=${DSS_FUZZ_SECONDS} -rss_limit_mb=2048 '${scratch}' '${corpus}'")
    set_tests_properties(fuzz/${name} PROPERTIES LABELS fuzz TIMEOUT 300)
  endforeach()
endif()

# The shipped scenarios (scenarios/*.json but smoke and blog-example, which test_scenario.py
# covers with their reports): one ctest entry each, label "scenario", so that they run in parallel
# and time out one by one. Each is a method of tests/integration/test_scenario_shipped.py, run
# under Debian's python3 (dss-scenario needs no Python client library). scenario/simulated-day
# (about an hour) is registered for `ctest -C long` only, so that neither CI nor a plain ctest
# starts it; run it by hand:
#   ctest --test-dir build -C long -R '^scenario/simulated-day$' --output-on-failure
# scenario/scale-10k (200 workers, about 4 minutes on the 2-core machine) runs alone
# (RUN_SERIAL): beside it every other test would run at half speed.
file(GLOB DSS_SHIPPED_SCENARIOS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/scenarios/*.json)
list(FILTER DSS_SHIPPED_SCENARIOS EXCLUDE REGEX "/(smoke|blog-example)\\.json$")
foreach(f ${DSS_SHIPPED_SCENARIOS})
  get_filename_component(name ${f} NAME_WE)
  string(REGEX REPLACE "[^0-9A-Za-z]" "_" method ${name})
  # The ctest timeout: the scenario's own time_limit plus room to start, drain and check.
  file(READ ${f} spec)
  string(JSON limit ERROR_VARIABLE no_limit GET ${spec} time_limit)
  if(no_limit)
    set(limit 600)
  endif()
  math(EXPR timeout "${limit} + 300")
  set(configs)
  if(name STREQUAL "simulated-day")
    set(configs CONFIGURATIONS long)
  endif()
  add_test(NAME scenario/${name}
           COMMAND /usr/bin/python3 -m unittest -v test_scenario_shipped.TestShippedScenarios.test_${method}
           WORKING_DIRECTORY ${DSS_SCN_TESTS_DIR}/integration ${configs})
  set_tests_properties(scenario/${name} PROPERTIES LABELS scenario TIMEOUT ${timeout}
    ENVIRONMENT "DSS_BIN=${CMAKE_BINARY_DIR}/bin;DSS_SOURCE=${CMAKE_SOURCE_DIR}")
  if(name STREQUAL "scale-10k")
    set_tests_properties(scenario/${name} PROPERTIES RUN_SERIAL TRUE)
  endif()
endforeach()
