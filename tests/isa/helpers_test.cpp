// The helper table (isa/helpers.def) against the installed kernel uapi
// header: ids, names, and the shape of the prototypes. Its own file: the
// uapi header's macros (BPF_OP, ...) would clash with the opcode table's.
// clang-format off
#include "bpfkit/isa.hpp"  // first: it uses BPF_OP as an X-macro, which the uapi header defines
#include <linux/bpf.h>
// clang-format on

#include <gtest/gtest.h>

namespace bpfkit::isa {
namespace {

// Every row of isa/helpers.def has the kernel's id (the installed uapi
// header's enum bpf_func_id), and the table ends where the kernel's does.
#define HELPER(id, name) static_assert(BPF_FUNC_##name == (id), "helpers.def: " #name);
#include "bpfkit/isa/helpers.def"

TEST(IsaHelpers, EveryKernelHelperHasItsIdAndName) {
  ASSERT_EQ(helper_infos().size(), static_cast<size_t>(__BPF_FUNC_MAX_ID));
  for (uint32_t id = 0; id < __BPF_FUNC_MAX_ID; ++id) {
    ASSERT_NE(helper_info(id), nullptr) << id;
    EXPECT_EQ(helper_info(id)->id, id);
    EXPECT_EQ(helper_info(id)->name.substr(0, 4), "bpf_") << id;
  }
  EXPECT_EQ(helper_name(14), "bpf_get_current_pid_tgid");
  EXPECT_EQ(helper_name(BPF_FUNC_xdp_load_bytes), "bpf_xdp_load_bytes");
  EXPECT_EQ(helper_info(__BPF_FUNC_MAX_ID), nullptr);
  EXPECT_EQ(helper_name(9999), "");
  EXPECT_EQ(describe_helper(26), "26 (bpf_skb_load_bytes)");
  EXPECT_EQ(describe_helper(9999), "9999");
}

TEST(IsaHelpers, PrototypesAreTheKernels) {
  const HelperProto* lookup = helper_info(BPF_FUNC_map_lookup_elem)->proto;
  ASSERT_NE(lookup, nullptr);
  EXPECT_EQ(lookup->ret, HelperRet::MapValueOrNull);
  EXPECT_EQ(lookup->args[0], HelperArg::ConstMapPtr);
  EXPECT_EQ(lookup->args[1], HelperArg::MapKey);
  EXPECT_EQ(lookup->args[2], HelperArg::None);
  const HelperProto* tail_call = helper_info(BPF_FUNC_tail_call)->proto;
  ASSERT_NE(tail_call, nullptr);
  EXPECT_EQ(tail_call->map_type, static_cast<uint32_t>(MapType::ProgArray));
  EXPECT_EQ(helper_info(BPF_FUNC_probe_read)->proto->group, HelperGroup::Tracing);
  EXPECT_EQ(helper_info(BPF_FUNC_unspec)->proto, nullptr);
  // Arguments are packed: nothing after the first None.
  for (const HelperInfo& helper : helper_infos()) {
    if (!helper.proto) continue;
    bool ended = false;
    for (HelperArg arg : helper.proto->args) {
      if (ended) {
        EXPECT_EQ(arg, HelperArg::None) << helper.name;
      }
      ended = ended || arg == HelperArg::None;
    }
  }
}

}  // namespace
}  // namespace bpfkit::isa
