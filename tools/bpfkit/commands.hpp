// The table of subcommands (commands.def) as main() walks it.
#pragma once

#include <CLI/CLI.hpp>

#define BPFKIT_COMMAND(name, help)        \
  namespace bpfkit::cli::name##_command { \
    void add_options(CLI::App& app);      \
    int run();                            \
  }
#include "commands.def"
#undef BPFKIT_COMMAND

namespace bpfkit::cli {

struct Command {
  const char* name;
  const char* help;
  void (*add_options)(CLI::App& app);
  int (*run)();
};

inline constexpr Command kCommands[] = {
#define BPFKIT_COMMAND(name, help) {#name, help, name##_command::add_options, name##_command::run},
#include "commands.def"
#undef BPFKIT_COMMAND
};

}  // namespace bpfkit::cli
