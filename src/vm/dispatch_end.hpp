// Ends what dispatch.hpp began: include it right after an execute() that
// used the shared macros, so that they do not leak into the rest of the file.
// No include guard: each interpreter file includes it once.
#undef DISPATCH
#undef NEXT
#undef JUMP_IF
#undef CHECKED_ACCESS
#undef NO_ADJUST
#undef OFFSET
#undef IMM64
#undef IMM32
#undef BYTE_ORDER_HANDLERS
#undef LDDW_HANDLER
