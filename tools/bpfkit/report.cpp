#include "report.hpp"

#include <cstdio>
#include <iostream>

#include "bpfkit/isa.hpp"

namespace bpfkit::cli {

int exit_status_for(const Error& error) {
  if (error.domain != Domain::Generic) return kExitRejected;
  switch (error.code) {
    case Errc::Io:
    case Errc::BadOperand: return kExitBadInput;
    default: return kExitRejected;
  }
}

std::string hex(uint64_t value) { return hex_string(value); }

std::string map_type_label(uint32_t type) {
  const std::string_view name = isa::map_type_name(type);
  return name.empty() ? isa::describe_map_type(type) : std::string(name);  // "type 99"
}

std::string dump_json(const Json& value) {
  // `replace` is what makes this total: the default handler throws
  // type_error 316 on the first byte that is not UTF-8.
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json error_json(const Error& error) {
  Json body;
  if (error.domain == Domain::Generic) {
    body["code"] = errc_name(error.code);
  } else {
    body["code"] = std::string(error.name());
    body["class"] = errc_name(error.code);
    body["domain"] = domain_name(error.domain);
  }
  body["message"] = error.message;
  if (error.location.pc) body["pc"] = *error.location.pc;
  if (error.location.offset) body["offset"] = *error.location.offset;
  if (!error.location.input.empty()) body["input"] = error.location.input;
  if (error.location.line) body["line"] = error.location.line;
  if (error.location.column) body["column"] = error.location.column;
  return body;
}

void Printer::print_json(const Json& value) { out_ << dump_json(value) << "\n" << std::flush; }

int Printer::fail(const Error& error, int status) {
  if (json_) {
    print_json(Json{{"error", error_json(error)}});
  } else {
    err_ << "bpfkit: " << to_string(error)
         << (error.domain == Domain::Generic ? "" : " [" + std::string(error.name()) + "]") << "\n";
  }
  return status != 0 ? status : exit_status_for(error);
}

namespace {

Json registers_json(const std::array<uint64_t, 11>& registers) {
  Json list = Json::array();
  for (uint64_t r : registers) list.push_back(hex(r));
  return list;
}

// Maps as dump_maps() in cmd_run.cpp makes them: name, type, entries (a
// record string for ring buffers, else {key, value}).
void print_maps(std::ostream& out, const Json& maps) {
  for (const Json& map : maps) {
    out << "map " << map["name"].get<std::string>() << " (" << map["type"].get<std::string>() << ")\n";
    for (const Json& entry : map["entries"]) {
      if (entry.is_string())
        out << "  record " << entry.get<std::string>() << "\n";
      else
        out << "  " << entry["key"].get<std::string>() << ": " << entry["value"].get<std::string>() << "\n";
    }
  }
}

}  // namespace

int Printer::run(const RunReport& report) {
  if (json_) {
    Json out;
    if (report.error) {
      Json body = error_json(*report.error);
      if (report.compute_units) body["compute_units"] = *report.compute_units;
      out["error"] = std::move(body);
    } else if (report.test_run) {  // BPF_PROG_TEST_RUN's fields
      out["retval"] = report.test_run->retval;
      out["data_out"] = report.test_run->data_out;
      out["data_size_out"] = report.test_run->data_size_out;
      out["duration_ns"] = report.test_run->duration_ns;
      if (report.test_run->redirect) out["redirect"] = *report.test_run->redirect;
      out["instructions"] = report.instructions;
    } else {
      out["r0"] = hex(report.r0);
      out["instructions"] = report.instructions;
      if (report.compute_units) out["compute_units"] = *report.compute_units;
    }
    if (!report.output.empty()) out[report.output_field] = report.output;
    if (report.perf_output) out["perf_output"] = *report.perf_output;
    if (!report.error) {
      if (report.registers) out["registers"] = registers_json(*report.registers);
      if (report.maps) out["maps"] = *report.maps;
    }
    print_json(out);
  } else {
    err_ << report.output << std::flush;
    if (report.perf_output)
      for (const Json& record : *report.perf_output)
        out_ << "perf_event_output " << record["map"].get<std::string>() << " cpu " << record["cpu"].dump() << ": "
             << record["data"].get<std::string>() << "\n";
    if (report.error) {
      const int status = fail(*report.error, report.error_status);
      if (report.compute_units) err_ << "compute units: " << *report.compute_units << "\n";
      return status;
    }
    if (report.test_run) {
      out_ << "retval: " << report.test_run->retval << "\n"
           << "data_out (" << report.test_run->data_size_out << " bytes): " << report.test_run->data_out << "\n";
      if (const auto& redirect = report.test_run->redirect) {
        out_ << "redirect:";
        for (const auto& [name, value] : redirect->items()) out_ << " " << name << " " << value.dump();
        out_ << "\n";
      }
      if (report.test_run->timed) out_ << "duration: " << report.test_run->duration_ns << " ns per run\n";
    } else {
      out_ << hex(report.r0) << "\n";
    }
    if (report.compute_units) out_ << "compute units: " << *report.compute_units << "\n";
    if (report.stats) out_ << "instructions: " << report.instructions << "\n";
    if (report.registers)
      for (size_t i = 0; i < report.registers->size(); ++i)
        out_ << "r" << i << ": " << hex((*report.registers)[i]) << "\n";
    if (report.maps) print_maps(out_, *report.maps);
    out_ << std::flush;
  }
  if (!report.error) return kExitOk;
  return report.error_status != 0 ? report.error_status : exit_status_for(*report.error);
}

Printer standard_printer(bool json) { return Printer(json, std::cout, std::cerr); }

}  // namespace bpfkit::cli
