# Module ir, code generation (src/ir/codegen): the parallel copies of
# out-of-SSA, register allocation, block layout, and the round trip through
# the IR. Included from tests/CMakeLists.txt; the IR core's tests are in
# tests/ir/CMakeLists.txt.
add_executable(bpfkit_ir_codegen_tests ${CMAKE_CURRENT_LIST_DIR}/codegen_parallel_copy_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/codegen_mir_test.cpp ${CMAKE_CURRENT_LIST_DIR}/codegen_roundtrip_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/codegen_regression_test.cpp ${CMAKE_CURRENT_LIST_DIR}/object_rewrite_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/instrument_test.cpp ${CMAKE_CURRENT_LIST_DIR}/codegen_size_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/codegen_core_test.cpp)
target_include_directories(bpfkit_ir_codegen_tests PRIVATE ${PROJECT_SOURCE_DIR}/src/ir/codegen)
target_link_libraries(bpfkit_ir_codegen_tests PRIVATE bpfkit_ir_codegen bpfkit_vm bpfkit_verify bpfkit_load
  bpfkit_verify_oracle bpfkit_test_support GTest::gtest GTest::gtest_main)
target_compile_definitions(bpfkit_ir_codegen_tests PRIVATE BPFKIT_SHARED_DIR="${BPFKIT_SHARED_DIR}"
  BPFKIT_BENCH_DIR="${CMAKE_BINARY_DIR}/bench")
bpfkit_needs_bpf_test_programs(bpfkit_ir_codegen_tests)
add_dependencies(bpfkit_ir_codegen_tests bench_programs)  # defined later (bench/): resolved at generation
gtest_discover_tests(bpfkit_ir_codegen_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
