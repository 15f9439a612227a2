// bpfkit: the command-line program. Subcommands in the style of git/bpftool,
// one file each (cmd_<name>.cpp), listed in commands.def.
//
// Exit status: 0 success, 1 the program was rejected or faulted, 2 bad usage
// or unreadable input. Results go to stdout, human messages to stderr.
#include <csignal>
#include <iostream>
#include <new>

#include "commands.hpp"
#include "report.hpp"

int main(int argc, char** argv) {
  using namespace bpfkit::cli;
  // A write past `ulimit -f` fails with EFBIG instead of killing us, so that
  // `asm -o` can report it and leave the old file in place.
  std::signal(SIGXFSZ, SIG_IGN);

  CLI::App app{"bpfkit: assemble, check, transform and run BPF programs"};
  app.require_subcommand(1);
  std::vector<std::pair<CLI::App*, const Command*>> subcommands;
  for (const Command& command : kCommands) {
    CLI::App* sub = app.add_subcommand(command.name, command.help);
    command.add_options(*sub);
    subcommands.emplace_back(sub, &command);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? kExitOk : kExitBadInput;
  }
  try {
    for (const auto& [sub, command] : subcommands)
      if (sub->parsed()) return command->run();
  } catch (const std::bad_alloc&) {
    std::cerr << "bpfkit: out of memory\n";
  }
  return kExitBadInput;
}
