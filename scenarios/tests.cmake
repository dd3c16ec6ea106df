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
