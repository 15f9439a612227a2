// Room for the assembler's large outputs (section bytes, fixups, the ELF
// file), reserved once. Internal to module asm.
//
// A reservation costs nothing until written: each page is mapped on its
// first write, one page fault per 4 KiB page. In a virtual machine a fault
// costs about 10 us, so writing 8 MiB of code cost 20 ms in faults alone
// (a tenth of assembling 1M lines). A large reservation therefore asks for
// transparent huge pages (one fault per 2 MiB) where the system grants them
// on request; elsewhere it is only a reserve(). The buffer's start, up to
// the first 2 MiB boundary, can only have small pages (malloc does not align
// to 2 MiB): as it is written first anyway, those are mapped at once, in
// one call rather than a fault each.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace bpfkit::assembly::detail {

// Reserves room for `count` elements in `buffer` (empty, or its contents
// kept), backed by huge pages where that pays.
template <class T>
void reserve_large(std::vector<T>& buffer, size_t count) {
  buffer.reserve(count);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr size_t kWorthIt = size_t{2} << 20;  // smaller buffers hold no whole huge page
  constexpr uintptr_t kPage = 4096, kHugePage = uintptr_t{2} << 20;
  if ((buffer.capacity() - buffer.size()) * sizeof(T) < kWorthIt) return;
  // The advice goes to the whole small pages of the free room; the kernel
  // maps the 2 MiB-aligned parts of it with huge pages.
  const uintptr_t first = (reinterpret_cast<uintptr_t>(buffer.data() + buffer.size()) + kPage - 1) & ~(kPage - 1);
  const uintptr_t last = reinterpret_cast<uintptr_t>(buffer.data() + buffer.capacity()) & ~(kPage - 1);
  if (first >= last) return;
  // Only advice: where it is refused, the pages stay small.
  static_cast<void>(madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE));
#if defined(MADV_POPULATE_WRITE)
  const uintptr_t head_end = std::min((first + kHugePage - 1) & ~(kHugePage - 1), last);
  if (first < head_end)
    static_cast<void>(madvise(reinterpret_cast<void*>(first), head_end - first, MADV_POPULATE_WRITE));
#endif
#endif
}

}  // namespace bpfkit::assembly::detail
