// The two instruction syntaxes as lookups built from the opcode table:
// GNU normal mnemonics, and pseudo-C templates split into elements.
// Internal to module asm.
#pragma once

#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bpfkit/isa.hpp"
#include "lexer.hpp"

namespace bpfkit::assembly::detail {

// One element of a pseudo-C template ("r{dst} += {imm}" is RegDst, "+=", Imm).
enum class Elem : uint8_t { Literal, RegDst, RegSrc, Imm, Imm64, Off, Target, OptImm, ImmHi16, ImmLo16 };

struct TemplateElem {
  Elem kind;
  bool wide = true;       // registers: r (64-bit) or w (32-bit)
  std::string_view text;  // literals
};

// A literal of a template at a fixed token position (see PseudoTemplate).
struct FixedLiteral {
  size_t at;
  std::string_view text;
};

struct PseudoTemplate {
  isa::Op op;
  std::vector<TemplateElem> elems;
  bool either_width = false;  // narrow loads, stores and 32-bit atomics take r or w registers
  // The literals before the first expression, whose token each names,
  // less those the three keys stand for: the candidates of one three-key
  // list mostly differ there (`u32` or `u64` in `r1 = *(u64 *)(r2 + 8)`),
  // so they are checked before matching.
  std::vector<FixedLiteral> fixed_literals;
};

// A map built once, indexed for the assembler's hot path: an
// open-addressing table of 64-bit keys (a mask, not std::unordered_map's
// division, and usually one probe in one flat array) pointing into the map,
// at most a quarter full. `key_of(entry)` gives each entry's key; the keys
// are distinct.
template <class Map>
class FlatIndex {
 public:
  using Entry = typename Map::value_type;
  template <class KeyOf>
  void build(const Map& map, KeyOf key_of) {
    size_t size = 16;
    while (size < 4 * map.size()) size *= 2;
    slots_.assign(size, Slot{});
    mask_ = size - 1;
    for (const Entry& entry : map) {
      const uint64_t key = key_of(entry);
      size_t i = key & mask_;
      while (slots_[i].entry != nullptr) i = (i + 1) & mask_;
      slots_[i] = Slot{key, &entry};
    }
  }
  const Entry* find(uint64_t key) const {
    for (size_t i = key & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].entry == nullptr || slots_[i].key == key) return slots_[i].entry;
    }
  }

 private:
  struct Slot {
    uint64_t key = 0;
    const Entry* entry = nullptr;
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

struct SyntaxTables {
  // GNU normal mnemonic (lower case) -> rows, in table order; flat, by
  // key_hash() of the mnemonic.
  using NormalMap = std::unordered_map<std::string_view, std::vector<isa::Op>>;
  NormalMap normal;
  FlatIndex<NormalMap> normal_index;
  // Pseudo-C templates by their first two elements, "FIRST SECOND": a
  // register is "R" or "W", an immediate or target "#", a literal itself
  // ("R +=", "if R", "* (", "lock *", "goto #", "exit").
  std::unordered_map<std::string, std::vector<PseudoTemplate>> pseudo;
  // The same templates by their first three keys, for the assembler's hot
  // path: three_key() of their key_hash()es, where a "#" element (an
  // expression: any number of tokens) makes the keys after it "*".
  using ThreeKeyMap = std::unordered_map<uint64_t, std::vector<const PseudoTemplate*>>;
  ThreeKeyMap by_three;
  FlatIndex<ThreeKeyMap> three_index;  // by_three, flat
};

// The hash of one key (FNV-1a), and of three (see `by_three`): the hot
// path hashes each input token once for all its lookups. A collision only
// merges two candidate lists (every candidate is still matched in full).
constexpr uint64_t kFnvPrime = 0x100000001b3u;
constexpr uint64_t key_hash(std::string_view key) {
  uint64_t hash = 0xcbf29ce484222325u;
  for (char c : key) hash = (hash ^ static_cast<unsigned char>(c)) * kFnvPrime;
  return hash;
}
constexpr uint64_t three_key(uint64_t first, uint64_t second, uint64_t third) {
  return ((first * kFnvPrime) ^ second) * kFnvPrime ^ third;
}

// The lookup key of a template element or input token (see `pseudo`).
std::string_view element_key(const TemplateElem& elem);
inline std::string_view token_key(const Token& token);  // below

const SyntaxTables& syntax_tables();

// "r3" -> 3 with wide = true, "w3" -> 3 with wide = false; -1 if not a
// register name. Numbers above 10 return their value (callers reject them).
// Inline: the assembler asks it of most tokens, more than once.
inline int pseudo_register(std::string_view name, bool& wide) {
  // LLVM also reads R1 and W1.
  if (name.size() < 2 || name.size() > 3 || (name[0] != 'r' && name[0] != 'w' && name[0] != 'R' && name[0] != 'W'))
    return -1;
  int number = 0;
  for (size_t i = 1; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return -1;
    number = number * 10 + (name[i] - '0');
  }
  if (name.size() == 3 && name[1] == '0') return -1;  // "r01" is a symbol
  wide = name[0] == 'r' || name[0] == 'R';
  return number;
}

// "%r3", "%fp" -> 3, 10; -1 otherwise.
inline int normal_register(std::string_view name) {
  if (name.empty() || name[0] != '%') return -1;
  if (name == "%fp") return isa::kFramePointer;
  if (!name.starts_with("%r")) return -1;
  bool wide = true;
  return pseudo_register(name.substr(1), wide);
}

inline std::string_view token_key(const Token& token) {
  bool wide = true;
  if (token.kind == TokenKind::Ident && pseudo_register(token.text, wide) >= 0) return wide ? "R" : "W";
  return token.text;
}

}  // namespace bpfkit::assembly::detail
