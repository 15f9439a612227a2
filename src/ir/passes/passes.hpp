// The passes' entry points (one file each) and what several of them use.
#pragma once

#include <functional>

#include "bpfkit/ir.hpp"

namespace bpfkit::ir::passes {

Expected<bool> run_sccp(Function& fn, const PassParams& params);
Expected<bool> run_copyprop(Function& fn, const PassParams& params);
Expected<bool> run_dce(Function& fn, const PassParams& params);
Expected<bool> run_simplify_cfg(Function& fn, const PassParams& params);
Expected<bool> run_strength(Function& fn, const PassParams& params);
Expected<bool> run_zext(Function& fn, const PassParams& params);
Expected<bool> run_cse(Function& fn, const PassParams& params);
Expected<bool> run_cond_op(Function& fn, const PassParams& params);
Expected<bool> run_stack_forward(Function& fn, const PassParams& params);
Expected<bool> run_dead_stores(Function& fn, const PassParams& params);
Expected<bool> run_store_merge(Function& fn, const PassParams& params);
Expected<bool> run_count_insns(Function& fn, const PassParams& params);
Expected<bool> run_block_hits(Function& fn, const PassParams& params);
Expected<bool> run_bound_index(Function& fn, const PassParams& params);
Expected<bool> run_null_check(Function& fn, const PassParams& params);

// Whether the function has an atomic add into map `map`'s value (an
// instrumentation pass ran on it already).
bool adds_to_map(const Function& fn, uint32_t map);

// Removes every block but the entry for which `reachable` is false, with
// its edges and the phi inputs they carried.
bool remove_unreachable_blocks(Function& fn, const std::function<bool(const Block*)>& reachable);

// Replaces a conditional branch by `ja taken`; the other target's phis lose
// the block's input.
void replace_branch_with_jump(Function& fn, Inst* branch, Block* taken);

}  // namespace bpfkit::ir::passes
