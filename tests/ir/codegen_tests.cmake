# Module ir, code generation (src/ir/codegen): the parallel copies of
# out-of-SSA, register allocation, block layout, and the round trip through
# the IR. Included from tests/CMakeLists.txt; the IR core's tests are in
# tests/ir/CMakeLists.txt.
add_executable(bpfkit_ir_codegen_tests ${CMAKE_CURRENT_LIST_DIR}/codegen_parallel_copy_test.cpp
  ${CMAKE_CURRENT_LIST_DIR}/codegen_mir_test.cpp)
target_include_directories(bpfkit_ir_codegen_tests PRIVATE ${PROJECT_SOURCE_DIR}/src/ir/codegen)
target_link_libraries(bpfkit_ir_codegen_tests PRIVATE bpfkit_ir_codegen bpfkit_vm GTest::gtest GTest::gtest_main)
gtest_discover_tests(bpfkit_ir_codegen_tests DISCOVERY_TIMEOUT 60)
