#include "solana_run.hpp"

#include <limits>
#include <type_traits>

#include "bpfkit/jit.hpp"
#include "input.hpp"

namespace bpfkit::cli {

namespace {

Error bad_input(const std::string& name, std::string message) {
  Location where;
  where.input = name;
  return make_error(Errc::BadOperand, std::move(message), where);
}

// One field of an account entry, by any of its names.
const Json* field(const Json& entry, std::initializer_list<const char*> names) {
  for (const char* name : names)
    if (auto it = entry.find(name); it != entry.end()) return &*it;
  return nullptr;
}

Expected<solana::Pubkey> key_field(const Json& entry, std::initializer_list<const char*> names, const std::string& what,
                                   const std::string& file) {
  const Json* value = field(entry, names);
  if (value == nullptr || !value->is_string()) return bad_input(file, what + ": a base58 string is needed");
  auto key = solana::parse_pubkey(value->get<std::string>());
  if (!key) return bad_input(file, what + ": " + key.error().message);
  return *key;
}

Expected<std::vector<uint8_t>> data_field(const Json& entry, const std::string& what, const std::string& file) {
  const Json* value = field(entry, {"data"});
  std::string text, encoding = "base64";
  if (value == nullptr) {
    if (const Json* hex = field(entry, {"data_hex"}); hex && hex->is_string()) {
      text = hex->get<std::string>();
      encoding = "hex";
    } else {
      return std::vector<uint8_t>();
    }
  } else if (value->is_string()) {
    text = value->get<std::string>();
  } else if (value->is_array() && value->size() == 2 && (*value)[0].is_string() && (*value)[1].is_string()) {
    text = (*value)[0].get<std::string>();
    encoding = (*value)[1].get<std::string>();
  } else {
    return bad_input(file, what + ": data is a base64 string or [\"...\", \"base64\"|\"hex\"]");
  }
  auto bytes = encoding == "hex"      ? parse_hex_bytes(text, "data")
               : encoding == "base64" ? solana::from_base64(text)
                                      : Expected<std::vector<uint8_t>>(bad_input(file, "encoding " + encoding));
  if (!bytes) return bad_input(file, what + ": " + bytes.error().message);
  return bytes;
}

Expected<uint64_t> number_field(const Json& entry, std::initializer_list<const char*> names, const std::string& what,
                                const std::string& file) {
  const Json* value = field(entry, names);
  if (value == nullptr) return uint64_t{0};
  if (!value->is_number_unsigned()) return bad_input(file, what + ": a whole number from 0 to 2^64 - 1 is needed");
  return value->get<uint64_t>();
}

Expected<bool> flag_field(const Json& entry, std::initializer_list<const char*> names, const std::string& what,
                          const std::string& file) {
  const Json* value = field(entry, names);
  if (value == nullptr) return false;
  if (!value->is_boolean()) return bad_input(file, what + ": true or false is needed");
  return value->get<bool>();
}

Json account_json(const solana::Account& account, const solana::InstructionAccount& meta) {
  return Json{{"key", solana::to_base58(account.key)}, {"owner", solana::to_base58(account.owner)},
              {"lamports", account.lamports},          {"data", solana::to_base64(account.data)},
              {"executable", account.executable},      {"rent_epoch", account.rent_epoch},
              {"is_signer", meta.is_signer},           {"is_writable", meta.is_writable}};
}

Expected<std::vector<uint8_t>> instruction_data(const std::string& text) {
  if (text.starts_with("@")) return read_file(text.substr(1));
  return parse_hex_bytes(text, "--ix-data");
}

}  // namespace

namespace {

// Sets `out` from entry[name] when present; a value of the wrong type is an error.
template <class T>
std::optional<Error> set_field(const Json& object, const char* name, T& out, const std::string& what,
                               const std::string& file) {
  auto it = object.find(name);
  if (it == object.end()) return std::nullopt;
  const bool fits = std::is_same_v<T, bool>     ? it->is_boolean()
                    : std::is_same_v<T, double> ? it->is_number()
                    : std::is_signed_v<T>       ? it->is_number_integer()
                                                : it->is_number_unsigned();
  if (!fits) return bad_input(file, what + "." + name + ": a value of the wrong type");
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    if (std::is_signed_v<T> ? it->template get<int64_t>() < std::numeric_limits<T>::min() ||
                                  it->template get<int64_t>() > std::numeric_limits<T>::max()
                            : it->template get<uint64_t>() > std::numeric_limits<T>::max())
      return bad_input(file, what + "." + name + ": out of range");
  }
  out = it->template get<T>();
  return std::nullopt;
}

std::optional<unsigned __int128> u128_value(const Json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (!value.is_string() || value.get<std::string>().empty()) return std::nullopt;
  unsigned __int128 out = 0;
  const unsigned __int128 max = ~static_cast<unsigned __int128>(0);
  for (char c : value.get<std::string>()) {
    if (c < '0' || c > '9' || out > (max - static_cast<unsigned>(c - '0')) / 10) return std::nullopt;
    out = out * 10 + static_cast<unsigned>(c - '0');
  }
  return out;
}

}  // namespace

Expected<solana::Sysvars> parse_sysvars(std::string_view text, const std::string& name) {
  Json root = Json::parse(text, nullptr, false);
  if (root.is_discarded() || !root.is_object()) return bad_input(name, "a JSON object of sysvars is needed");
  solana::Sysvars sysvars;
  std::optional<Error> error;
  auto section = [&](const char* key) -> const Json* {
    auto it = root.find(key);
    if (it == root.end()) return nullptr;
    if (!it->is_object()) error = bad_input(name, std::string(key) + ": an object is needed");
    return it->is_object() ? &*it : nullptr;
  };
  if (const Json* clock = section("clock")) {
    solana::Clock& c = sysvars.clock;
    for (auto e : {set_field(*clock, "slot", c.slot, "clock", name),
                   set_field(*clock, "epoch_start_timestamp", c.epoch_start_timestamp, "clock", name),
                   set_field(*clock, "epoch", c.epoch, "clock", name),
                   set_field(*clock, "leader_schedule_epoch", c.leader_schedule_epoch, "clock", name),
                   set_field(*clock, "unix_timestamp", c.unix_timestamp, "clock", name)})
      if (e && !error) error = e;
  }
  if (const Json* rent = section("rent")) {
    solana::Rent& r = sysvars.rent;
    for (auto e : {set_field(*rent, "lamports_per_byte_year", r.lamports_per_byte_year, "rent", name),
                   set_field(*rent, "exemption_threshold", r.exemption_threshold, "rent", name),
                   set_field(*rent, "burn_percent", r.burn_percent, "rent", name)})
      if (e && !error) error = e;
  }
  if (const Json* schedule = section("epoch_schedule")) {
    solana::EpochSchedule& s = sysvars.epoch_schedule;
    for (auto e :
         {set_field(*schedule, "slots_per_epoch", s.slots_per_epoch, "epoch_schedule", name),
          set_field(*schedule, "leader_schedule_slot_offset", s.leader_schedule_slot_offset, "epoch_schedule", name),
          set_field(*schedule, "warmup", s.warmup, "epoch_schedule", name),
          set_field(*schedule, "first_normal_epoch", s.first_normal_epoch, "epoch_schedule", name),
          set_field(*schedule, "first_normal_slot", s.first_normal_slot, "epoch_schedule", name)})
      if (e && !error) error = e;
  }
  if (const Json* rewards = section("epoch_rewards")) {
    solana::EpochRewards& r = sysvars.epoch_rewards;
    for (auto e : {set_field(*rewards, "distribution_starting_block_height", r.distribution_starting_block_height,
                             "epoch_rewards", name),
                   set_field(*rewards, "num_partitions", r.num_partitions, "epoch_rewards", name),
                   set_field(*rewards, "total_rewards", r.total_rewards, "epoch_rewards", name),
                   set_field(*rewards, "distributed_rewards", r.distributed_rewards, "epoch_rewards", name),
                   set_field(*rewards, "active", r.active, "epoch_rewards", name)})
      if (e && !error) error = e;
    if (rewards->contains("parent_blockhash")) {
      auto hash = key_field(*rewards, {"parent_blockhash"}, "epoch_rewards.parent_blockhash", name);
      if (!hash && !error) error = hash.error();
      if (hash) r.parent_blockhash = *hash;
    }
    // A u128: a whole number, or a decimal string for values past 2^64.
    if (auto it = rewards->find("total_points"); it != rewards->end()) {
      auto points = u128_value(*it);
      if (!points && !error)
        error = bad_input(name, "epoch_rewards.total_points: a whole number below 2^128 is needed");
      if (points) r.total_points = *points;
    }
  }
  if (auto it = root.find("last_restart_slot"); it != root.end()) {
    if (auto e = set_field(root, "last_restart_slot", sysvars.last_restart_slot, "sysvars", name); e && !error)
      error = e;
  }
  // The two lists of entries: at most 512, each an object.
  auto entries = [&](const char* key) -> const Json* {
    auto it = root.find(key);
    if (it == root.end()) return nullptr;
    if (!it->is_array() || it->size() > solana::kMaxSysvarEntries) {
      if (!error) error = bad_input(name, std::string(key) + ": an array of at most 512 entries is needed");
      return nullptr;
    }
    for (const Json& entry : *it)
      if (!entry.is_object() && !error) error = bad_input(name, std::string(key) + ": each entry is an object");
    return error ? nullptr : &*it;
  };
  if (const Json* list = entries("slot_hashes")) {
    for (const Json& entry : *list) {
      solana::SlotHash& slot_hash = sysvars.slot_hashes.emplace_back();
      if (auto e = set_field(entry, "slot", slot_hash.slot, "slot_hashes", name); e && !error) error = e;
      if (entry.contains("hash")) {
        auto hash = key_field(entry, {"hash"}, "slot_hashes.hash", name);
        if (!hash && !error) error = hash.error();
        if (hash) slot_hash.hash = *hash;
      }
    }
  }
  if (const Json* list = entries("stake_history")) {
    for (const Json& entry : *list) {
      solana::StakeHistoryEntry& e = sysvars.stake_history.emplace_back();
      for (auto failed : {set_field(entry, "epoch", e.epoch, "stake_history", name),
                          set_field(entry, "effective", e.effective, "stake_history", name),
                          set_field(entry, "activating", e.activating, "stake_history", name),
                          set_field(entry, "deactivating", e.deactivating, "stake_history", name)})
        if (failed && !error) error = failed;
    }
  }
  if (const Json* stake = section("epoch_stake")) {
    if (auto e = set_field(*stake, "total", sysvars.total_epoch_stake, "epoch_stake", name); e && !error) error = e;
    if (auto it = stake->find("vote_accounts"); it != stake->end()) {
      if (!it->is_object() && !error) error = bad_input(name, "epoch_stake.vote_accounts: an object is needed");
      for (auto vote = it->begin(); it->is_object() && vote != it->end(); ++vote) {
        auto key = solana::parse_pubkey(vote.key());
        if (!key || !vote->is_number_unsigned()) {
          if (!error) error = bad_input(name, "epoch_stake.vote_accounts: base58 keys to whole numbers are needed");
          break;
        }
        sysvars.vote_account_stakes.emplace_back(*key, vote->get<uint64_t>());
      }
    }
  }
  if (error) return *error;
  return sysvars;
}

Expected<AccountsInput> parse_accounts(std::string_view text, const std::string& name) {
  Json root = Json::parse(text, nullptr, false);
  if (root.is_discarded()) return bad_input(name, "not JSON");
  if (root.is_object() && root.contains("accounts")) root = root["accounts"];
  if (!root.is_array()) return bad_input(name, "an array of accounts (or {\"accounts\": [...]}) is needed");
  AccountsInput out;
  for (size_t i = 0; i < root.size(); ++i) {
    const Json& entry = root[i];
    const std::string what = "account " + std::to_string(i);
    if (!entry.is_object()) return bad_input(name, what + ": an object is needed");
    auto key = key_field(entry, {"key", "pubkey"}, what + " key", name);
    if (!key) return key.error();
    auto signer = flag_field(entry, {"is_signer", "signer"}, what, name);
    if (!signer) return signer.error();
    auto writable = flag_field(entry, {"is_writable", "writable"}, what, name);
    if (!writable) return writable.error();
    solana::InstructionAccount meta{static_cast<uint32_t>(out.accounts.size()), *signer, *writable};
    bool repeat = false;
    for (size_t k = 0; k < out.accounts.size(); ++k) {
      if (out.accounts[k].key != *key) continue;
      meta.index = static_cast<uint32_t>(k);
      repeat = true;
    }
    out.instruction.push_back(meta);
    if (repeat) continue;
    solana::Account account;
    account.key = *key;
    if (field(entry, {"owner"})) {
      auto owner = key_field(entry, {"owner"}, what + " owner", name);
      if (!owner) return owner.error();
      account.owner = *owner;
    }
    auto lamports = number_field(entry, {"lamports"}, what + " lamports", name);
    if (!lamports) return lamports.error();
    account.lamports = *lamports;
    auto data = data_field(entry, what, name);
    if (!data) return data.error();
    account.data = std::move(*data);
    auto executable = flag_field(entry, {"executable"}, what, name);
    if (!executable) return executable.error();
    account.executable = *executable;
    auto rent_epoch = number_field(entry, {"rent_epoch", "rentEpoch"}, what + " rent_epoch", name);
    if (!rent_epoch) return rent_epoch.error();
    account.rent_epoch = *rent_epoch;
    out.accounts.push_back(std::move(account));
  }
  return out;
}

int run_solana(const isa::Program& program, const std::vector<uint8_t>& file_bytes, const SolanaRunOptions& options,
               Printer& printer) {
  solana::Instruction ix;
  std::vector<solana::Account> accounts;
  if (!options.accounts_file.empty()) {
    auto text = read_file(options.accounts_file);
    if (!text) return printer.fail(text.error());
    auto parsed = parse_accounts({reinterpret_cast<const char*>(text->data()), text->size()}, options.accounts_file);
    if (!parsed) return printer.fail(parsed.error());
    accounts = std::move(parsed->accounts);
    ix.accounts = std::move(parsed->instruction);
  }
  if (!options.instruction_data.empty()) {
    auto data = instruction_data(options.instruction_data);
    if (!data) return printer.fail(data.error());
    ix.data = std::move(*data);
  }
  if (!options.program_id.empty()) {
    auto id = solana::parse_pubkey(options.program_id);
    if (!id) return printer.fail(bad_input("--program-id", id.error().message));
    ix.program_id = *id;
  } else {
    // A stable id of the program's own: the SHA-256 of the file.
    std::span<const uint8_t> bytes(file_bytes);
    ix.program_id = solana::sha256({&bytes, 1});
  }
  solana::ExecuteOptions execute_options;
  if (!options.sysvars_file.empty()) {
    auto text = read_file(options.sysvars_file);
    if (!text) return printer.fail(text.error());
    auto sysvars = parse_sysvars({reinterpret_cast<const char*>(text->data()), text->size()}, options.sysvars_file);
    if (!sysvars) return printer.fail(sysvars.error());
    execute_options.sysvars = *sysvars;
  }
  execute_options.compute_units = options.compute_units;
  execute_options.heap_size = options.heap_size;
  execute_options.programs = options.programs;
  execute_options.simd_0339 = options.simd_0339;
  if (options.unaligned) execute_options.format = solana::InputFormat::Unaligned;
  if (options.jit)
    execute_options.engine = [harden = options.harden](const isa::Program& program, const vm::Context& context) {
      return jit::make_jit(program, context, jit::Options{.harden = harden});
    };
  auto result = solana::execute(program, ix, accounts, execute_options);
  if (!result) {
    Error error = result.error();
    if (error.location.input.empty()) error.location.input = options.file;
    return printer.fail(error);
  }
  if (printer.json()) {
    Json out;
    out["program_id"] = solana::to_base58(ix.program_id);
    out["logs"] = result->logs;
    out["compute_units"] = result->compute_units;
    out["return_data"] =
        result->return_data.data.empty() ? Json(nullptr) : Json(solana::to_base64(result->return_data.data));
    if (result->error) out["error"] = error_json(*result->error);
    Json list = Json::array();
    for (const solana::InstructionAccount& meta : ix.accounts)
      list.push_back(account_json(result->accounts[meta.index], meta));
    out["accounts"] = std::move(list);
    printer.print_json(out);
  } else {
    for (const std::string& line : result->logs) printer.out() << line << "\n";
    printer.out() << std::flush;
    if (result->error) return printer.fail(*result->error, kExitRejected);
  }
  return result->error ? kExitRejected : kExitOk;
}

}  // namespace bpfkit::cli
