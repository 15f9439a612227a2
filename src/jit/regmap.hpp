// The fixed register mapping: BPF r0..r10 live in x86 registers for the
// whole run, the meter in r11, rsp points at the State, and rax, rcx, rdx are
// scratch (x86's division, shift count and cmpxchg want exactly those, and
// no BPF register sits in them).
#pragma once

#define XBYAK_NO_OP_NAMES
#define XBYAK_NO_EXCEPTION
#include <xbyak/xbyak.h>
#include <xbyak/xbyak_util.h>

#include <array>

namespace bpfkit::jit {

inline const std::array<Xbyak::Reg64, 11> kBpfRegisters = {
    Xbyak::util::rbx,  // r0
    Xbyak::util::rdi,  // r1
    Xbyak::util::rsi,  // r2
    Xbyak::util::r8,   // r3
    Xbyak::util::r9,   // r4
    Xbyak::util::r10,  // r5
    Xbyak::util::r12,  // r6
    Xbyak::util::r13,  // r7
    Xbyak::util::r14,  // r8
    Xbyak::util::r15,  // r9
    Xbyak::util::rbp,  // r10, the frame pointer
};
inline const Xbyak::Reg64 kMeter = Xbyak::util::r11;  // the State's `left` while guest code runs

}  // namespace bpfkit::jit
