// BLAKE3 (sol_blake3), hash mode with a 32-byte output, after the
// specification's reference implementation: 1 KiB chunks of 64-byte
// blocks, a tree of parents, seven rounds of the G function per block.
#include <cstring>

#include "bpfkit/solana.hpp"

namespace bpfkit::solana {

namespace {

constexpr uint32_t kIv[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                             0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};
constexpr unsigned kPermutation[16] = {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8};
constexpr uint32_t kChunkStart = 1, kChunkEnd = 2, kParent = 4, kRoot = 8;
constexpr size_t kBlockLength = 64, kChunkLength = 1024;

uint32_t rotr(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

void g(uint32_t s[16], unsigned a, unsigned b, unsigned c, unsigned d, uint32_t mx, uint32_t my) {
  s[a] = s[a] + s[b] + mx;
  s[d] = rotr(s[d] ^ s[a], 16);
  s[c] = s[c] + s[d];
  s[b] = rotr(s[b] ^ s[c], 12);
  s[a] = s[a] + s[b] + my;
  s[d] = rotr(s[d] ^ s[a], 8);
  s[c] = s[c] + s[d];
  s[b] = rotr(s[b] ^ s[c], 7);
}

void round_of(uint32_t s[16], const uint32_t m[16]) {
  g(s, 0, 4, 8, 12, m[0], m[1]);
  g(s, 1, 5, 9, 13, m[2], m[3]);
  g(s, 2, 6, 10, 14, m[4], m[5]);
  g(s, 3, 7, 11, 15, m[6], m[7]);
  g(s, 0, 5, 10, 15, m[8], m[9]);
  g(s, 1, 6, 11, 12, m[10], m[11]);
  g(s, 2, 7, 8, 13, m[12], m[13]);
  g(s, 3, 4, 9, 14, m[14], m[15]);
}

struct Cv {
  uint32_t words[8];
};

// The compression function; the first 8 words of the result are the new
// chaining value (and, with kRoot, the 32 output bytes).
Cv compress(const Cv& cv, const uint32_t block[16], uint64_t counter, uint32_t block_length, uint32_t flags) {
  uint32_t s[16] = {cv.words[0],
                    cv.words[1],
                    cv.words[2],
                    cv.words[3],
                    cv.words[4],
                    cv.words[5],
                    cv.words[6],
                    cv.words[7],
                    kIv[0],
                    kIv[1],
                    kIv[2],
                    kIv[3],
                    static_cast<uint32_t>(counter),
                    static_cast<uint32_t>(counter >> 32),
                    block_length,
                    flags};
  uint32_t m[16];
  std::memcpy(m, block, sizeof m);
  for (int r = 0; r < 7; ++r) {
    round_of(s, m);
    if (r == 6) break;
    uint32_t permuted[16];
    for (unsigned i = 0; i < 16; ++i) permuted[i] = m[kPermutation[i]];
    std::memcpy(m, permuted, sizeof m);
  }
  Cv out;
  for (unsigned i = 0; i < 8; ++i) out.words[i] = s[i] ^ s[i + 8];
  return out;
}

void words_of(const uint8_t* bytes, uint32_t out[16]) {
  for (unsigned i = 0; i < 16; ++i)
    out[i] = uint32_t{bytes[4 * i]} | uint32_t{bytes[4 * i + 1]} << 8 | uint32_t{bytes[4 * i + 2]} << 16 |
             uint32_t{bytes[4 * i + 3]} << 24;
}

// What a node of the tree is before the root decides its flags.
struct Node {
  Cv input;
  uint32_t block[16];
  uint64_t counter;
  uint32_t block_length;
  uint32_t flags;
  Cv chaining_value() const { return compress(input, block, counter, block_length, flags); }
};

Node parent(const Cv& left, const Cv& right) {
  Node node{Cv{}, {}, 0, kBlockLength, kParent};
  std::memcpy(node.input.words, kIv, sizeof kIv);
  std::memcpy(node.block, left.words, 32);
  std::memcpy(node.block + 8, right.words, 32);
  return node;
}

class Chunk {
 public:
  explicit Chunk(uint64_t counter) : counter_(counter) { std::memcpy(cv_.words, kIv, sizeof kIv); }
  size_t length() const { return kBlockLength * blocks_ + buffered_; }
  void update(const uint8_t* data, size_t n) {
    while (n > 0) {
      if (buffered_ == kBlockLength) {
        uint32_t words[16];
        words_of(buffer_, words);
        cv_ = compress(cv_, words, counter_, kBlockLength, start_flag());
        ++blocks_;
        buffered_ = 0;
      }
      const size_t take = std::min(kBlockLength - buffered_, n);
      std::memcpy(buffer_ + buffered_, data, take);
      buffered_ += take;
      data += take;
      n -= take;
    }
  }
  Node node() const {
    uint8_t padded[kBlockLength] = {};
    std::memcpy(padded, buffer_, buffered_);
    Node out{cv_, {}, counter_, static_cast<uint32_t>(buffered_), start_flag() | kChunkEnd};
    words_of(padded, out.block);
    return out;
  }

 private:
  uint32_t start_flag() const { return blocks_ == 0 ? kChunkStart : 0; }
  Cv cv_;
  uint64_t counter_;
  uint8_t buffer_[kBlockLength] = {};
  size_t buffered_ = 0;
  uint64_t blocks_ = 0;
};

}  // namespace

std::array<uint8_t, 32> blake3(std::span<const std::span<const uint8_t>> parts) {
  std::vector<Cv> stack;
  Chunk chunk(0);
  uint64_t chunks = 0;
  for (std::span<const uint8_t> part : parts) {
    const uint8_t* data = part.data();
    size_t n = part.size();
    while (n > 0) {
      if (chunk.length() == kChunkLength) {
        Cv cv = chunk.node().chaining_value();
        uint64_t total = ++chunks;
        // Merge completed subtrees: one per trailing zero bit of the count.
        for (; (total & 1) == 0; total >>= 1) {
          cv = parent(stack.back(), cv).chaining_value();
          stack.pop_back();
        }
        stack.push_back(cv);
        chunk = Chunk(chunks);
      }
      const size_t take = std::min(kChunkLength - chunk.length(), n);
      chunk.update(data, take);
      data += take;
      n -= take;
    }
  }
  Node node = chunk.node();
  while (!stack.empty()) {
    node = parent(stack.back(), node.chaining_value());
    stack.pop_back();
  }
  const Cv root = compress(node.input, node.block, node.counter, node.block_length, node.flags | kRoot);
  std::array<uint8_t, 32> out{};
  for (unsigned i = 0; i < 8; ++i)
    for (unsigned k = 0; k < 4; ++k) out[4 * i + k] = static_cast<uint8_t>(root.words[i] >> (8 * k));
  return out;
}

}  // namespace bpfkit::solana
