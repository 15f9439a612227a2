// bpfkit jit --dump: the machine code interleaved with the BPF instructions,
// disassembled by Capstone (an independent decoder of what xbyak encoded).
#include <capstone/capstone.h>

#include <algorithm>
#include <cstdio>

#include "bpfkit/jit.hpp"

namespace bpfkit::jit {

std::string disassemble_x86(std::span<const uint8_t> bytes, uint64_t address) {
  csh handle;
  if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK) return "  (capstone unavailable)\n";
  cs_insn* insns = nullptr;
  const size_t count = cs_disasm(handle, bytes.data(), bytes.size(), address, 0, &insns);
  std::string text;
  size_t decoded = 0;
  char line[256];
  for (size_t i = 0; i < count; ++i) {
    std::string hex;
    for (uint16_t b = 0; b < insns[i].size; ++b) {
      char byte[4];
      std::snprintf(byte, sizeof byte, "%02x", insns[i].bytes[b]);
      hex += byte;
    }
    std::snprintf(line, sizeof line, "  %12llx:  %-24s %s %s\n", static_cast<unsigned long long>(insns[i].address),
                  hex.c_str(), insns[i].mnemonic, insns[i].op_str);
    text += line;
    decoded += insns[i].size;
  }
  if (count > 0) cs_free(insns, count);
  cs_close(&handle);
  if (decoded < bytes.size()) text += "  (" + std::to_string(bytes.size() - decoded) + " bytes not decoded)\n";
  return text;
}

std::string listing(const Jit& jit, const std::function<std::string(uint32_t pc)>& describe) {
  const std::span<const uint8_t> code = jit.code();
  const uint64_t base = jit.code_address();
  std::string text;
  size_t hot_begin = code.size(), hot_end = 0;
  for (const CodeRange& range : jit.ranges()) {
    if (range.end > range.begin) {
      hot_begin = std::min(hot_begin, range.begin);
      hot_end = std::max(hot_end, range.end);
    }
  }
  if (hot_begin > hot_end) hot_begin = hot_end = 0;
  text += "; prologue\n" + disassemble_x86(code.subspan(0, hot_begin), base);
  for (const CodeRange& range : jit.ranges()) {
    text += std::to_string(range.pc) + ": " + describe(range.pc);
    if (range.unchecked) text += "    ; in bounds: no region check";
    if (range.checked_at_loop_entry) text += "    ; in bounds on every iteration: checked at the loop's entry";
    if (range.metered_at_loop_entry) text += "    ; metered at the loop's entry";
    text += "\n";
    text += disassemble_x86(code.subspan(range.begin, range.end - range.begin), base + range.begin);
  }
  text += "; end of program, shared exits and cold paths\n";
  text += disassemble_x86(code.subspan(hot_end), base + hot_end);
  return text;
}

}  // namespace bpfkit::jit
