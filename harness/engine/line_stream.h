// The base of the harness stream parsers that read their harness's output
// line by line (harness_stream.cpp: GoogleTest, libtest; harness_xml_stream.cpp:
// Catch2's and doctest's XML reporters): it splits the bytes into lines and
// keeps the test that runs, and its subclasses decide what a line means.
#pragma once

#include <string>
#include <string_view>

#include "engine/harness_stream.h"

namespace xrun {

// Splits a byte stream into lines; subclasses see each complete line
// (without '\n') and may look at the unfinished rest.
class LineStream : public HarnessStream {
 public:
  explicit LineStream(StreamEvents events) : events_(std::move(events)) {}

  void feed(std::string_view bytes) override {
    // What was kept has no newline: look only at what came (a line that
    // arrives a byte at a time, a test's progress dots, stays linear).
    std::size_t from = partial_.size();
    partial_.append(bytes);
    std::size_t start = 0;
    while (true) {
      const auto newline = partial_.find('\n', from);
      if (newline == std::string::npos) break;
      deliver(std::string_view(partial_).substr(start, newline - start), true);
      start = from = newline + 1;
    }
    partial_.erase(0, start);
    if (!partial_.empty()) on_partial(without_cr(partial_));
  }

  void finish() override {
    if (!partial_.empty()) {
      std::string last;
      last.swap(partial_);
      deliver(last, /*had_newline=*/false);
    }
  }

  const std::string& current() const override { return current_; }

 private:
  static std::string_view without_cr(std::string_view line) {
    return !line.empty() && line.back() == '\r' ? line.substr(0, line.size() - 1) : line;
  }
  // A line as its harness meant it: a harness on Windows (a program under
  // Wine) or behind a terminal's line discipline ends lines with "\r\n", and
  // "[       OK ] A.ok (0 ms)\r" was no verdict. The parsers see the line
  // without the '\r'; emit_output() gives it back.
  void deliver(std::string_view line, bool had_newline) {
    const std::string_view bare = without_cr(line);
    line_had_cr_ = bare.size() != line.size();
    on_line(bare, had_newline);
  }

 protected:
  virtual void on_line(std::string_view line, bool had_newline = true) = 0;
  virtual void on_partial(std::string_view) {}

  // `line` is the line on_line() was given: its output is the bytes that
  // came, a carriage return included.
  void emit_output(const std::string& name, std::string_view line, bool had_newline) {
    if (!events_.output) return;
    std::string bytes(line);
    if (line_had_cr_) bytes += '\r';
    if (had_newline) bytes += '\n';
    events_.output(name, bytes);
  }
  void start_test(const std::string& name) {
    current_ = name;
    if (events_.started) events_.started(name);
  }
  void finish_test(Verdict verdict) {
    const std::string name = current_;
    current_.clear();
    if (events_.finished) events_.finished(name, verdict);
  }

  StreamEvents events_;
  std::string partial_;
  bool line_had_cr_ = false;  // the line on_line() has was "...\r\n"
  std::string current_;
};

}  // namespace xrun
