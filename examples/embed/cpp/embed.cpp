// Embedding bpfkit from C++: assemble a source, decode it into a checked
// program, verify it as the Linux kernel would, and run it on the
// interpreter (the C++ API of include/bpfkit/).
#include <bpfkit/assembly.hpp>
#include <bpfkit/isa.hpp>
#include <bpfkit/verify.hpp>
#include <bpfkit/vm.hpp>
#include <iostream>

namespace {

constexpr const char* kSource = R"(
  # r0 = 10!
  r0 = 1
  r1 = 10
loop:
  r0 *= r1
  r1 -= 1
  if r1 != 0 goto loop
  exit
)";

int fail(const bpfkit::Error& error) {
  std::cerr << "embed: " << bpfkit::to_string(error) << "\n";
  return 1;
}

}  // namespace

int main() {
  using namespace bpfkit;
  assembly::Assembly assembled = assembly::assemble(kSource, {.input_name = "factorial.s"});
  if (!assembled.ok()) return fail(assembled.errors.front());
  const assembly::Section* text = assembled.object.find_section(".text");
  if (text == nullptr) return 1;

  auto program = isa::decode(text->bytes, isa::kLinuxV4);
  if (!program) return fail(program.error());
  const verify::Result verdict = verify::verify(*program);  // the raw type: r1 = a buffer, here of 0 bytes
  if (!verdict.accepted) return fail(*verdict.error);
  vm::Context context(*program->dialect);  // memory (the stack), the default helpers, the budget
  auto engine = vm::make_interpreter(*program, context);
  if (!engine) return fail(engine.error());

  const vm::RunResult result = (*engine)->run(context);
  if (result.error) return fail(*result.error);
  std::cout << "r0 = " << result.r0 << " (" << result.instructions << " instructions)\n";
  return 0;
}
