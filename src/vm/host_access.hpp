// Host-side reads and writes of guest bytes for both interpreters: guest
// addresses carry no alignment, so every access is a memcpy (one mov).
#pragma once

#include <cstdint>
#include <cstring>

namespace bpfkit::vm::detail {

template <class T>
inline T load(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

template <class T>
inline void store(uint8_t* p, T value) {
  std::memcpy(p, &value, sizeof value);
}

}  // namespace bpfkit::vm::detail
