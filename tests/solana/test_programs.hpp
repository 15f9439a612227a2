// What the runtime tests build their transactions from: sBPF v3 programs
// assembled from text (syscalls by name) and account keys of one repeated
// byte.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "bpfkit/load.hpp"
#include "bpfkit/solana.hpp"

namespace bpfkit::solana::test {

inline std::shared_ptr<const isa::Program> assemble(const std::string& source) {
  load::Options options;
  options.dialect = &isa::kSbpfV3;
  options.sbpf.syscalls = syscall_names();
  auto opened = load::open({reinterpret_cast<const uint8_t*>(source.data()), source.size()}, "test.s", options);
  EXPECT_TRUE(opened) << (opened ? "" : to_string(opened.error()));
  return std::make_shared<const isa::Program>(opened ? std::move(opened->program) : isa::Program{});
}

inline Pubkey key_of(uint8_t fill) {
  Pubkey key;
  key.fill(fill);
  return key;
}

}  // namespace bpfkit::solana::test
