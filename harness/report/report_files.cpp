#include "report/report_files.h"

#include <sys/mman.h>

#include <cstdint>

#include "core/fs_util.h"
#include "report/junit.h"

namespace xrun {

namespace {

// Tens of MB touched once: huge pages make that a few dozen faults, not
// ten thousand (on a paravirtualised CI machine each costs tens of µs).
// Only advice: the system's THP setting may ignore it.
void advise_huge_pages(char* data, std::size_t size) {
  constexpr std::uintptr_t kHuge = 2u << 20;
  const auto begin = (reinterpret_cast<std::uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + size) & ~(kHuge - 1);
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

}  // namespace

std::chrono::steady_clock::duration rewrite_spacing(std::chrono::milliseconds interval,
                                                    std::chrono::steady_clock::duration last_cost,
                                                    std::uint64_t last_bytes, double bytes_per_second) {
  const auto by_bytes = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(static_cast<double>(last_bytes) / bytes_per_second));
  return std::max<std::chrono::steady_clock::duration>({interval, 4 * last_cost, by_bytes});
}

std::size_t ReportFiles::ByKey::operator()(TestKeyView key) const {
  const std::size_t binary = std::hash<std::string_view>()(key.first);
  return binary ^ (std::hash<std::string_view>()(key.second) + 0x9e3779b97f4a7c15ull + (binary << 6) + (binary >> 2));
}

ReportFiles::ReportFiles(boost::asio::io_context& io, ReportSetup setup, std::chrono::milliseconds interval,
                         TimeSource* time)
    : setup_(std::move(setup)),
      interval_(interval),
      own_time_(time ? nullptr : steady_time(io)),
      time_(time ? *time : *own_time_),
      flush_(time_.make_timer()),
      position_(0, ByKey{&report_.tests}, ByKey{&report_.tests}) {
  report_.partition = setup_.partition;
  report_.command_line = setup_.command_line;
  report_.warnings = setup_.warnings;
  report_.host = host_description();
  report_.started_at = utc_now_iso8601();
  report_.complete = false;
  start_ = time_.now();
  if (setup_.stop_count) stops_at_start_ = setup_.stop_count();
}

void ReportFiles::encode(std::size_t index) {
  const TestResult& t = report_.tests[index];
  if (json_entries_.size() <= index) {
    json_entries_.resize(index + 1);
    junit_testcases_.resize(index + 1);
    versions_.resize(index + 1);
  }
  if (is_plain_not_run(t)) {  // written from the templates at each rewrite
    json_entries_[index] = EncodedTest{.from_template = true};
    junit_testcases_[index] = EncodedTest{.from_template = true};
  } else {
    if (setup_.json_path) json_entries_[index] = json_test_encoding(t), ++encodings_;
    if (setup_.junit_path) junit_testcases_[index] = junit_testcase_encoding(t), ++encodings_;
  }
  versions_[index] = next_version_++;  // the HTML row is encoded at the next rewrite, once
}

void ReportFiles::update(std::size_t index, const TestResult& result) {
  TestResult& kept = report_.tests[index];
  if (kept == result) return;
  const bool respellable = index < json_entries_.size() && (!setup_.json_path || json_entries_[index].can_respell()) &&
                           (!setup_.junit_path || junit_testcases_[index].can_respell());
  if (respellable && kept.message != result.message) {
    std::string old_message = std::move(kept.message);
    kept.message = result.message;
    if (kept == result) {
      auto it = respellings_.find(result.message);
      if (it == respellings_.end())
        it = respellings_
                 .emplace(result.message,
                          std::pair{json_message_encoding(result.message), junit_message_encoding(result.message)})
                 .first;
      json_entries_[index].message = &it->second.first;
      junit_testcases_[index].message = &it->second.second;
      versions_[index] = next_version_++;
      return;
    }
    kept.message = std::move(old_message);
  }
  kept = result;
  encode(index);
}

void ReportFiles::on_plan(const std::vector<TestCase>& tests) {
  report_.complete = false;
  report_.tests.clear();
  position_.clear();
  position_.reserve(tests.size());
  json_entries_.clear();
  junit_testcases_.clear();
  versions_.clear();
  report_.tests.reserve(tests.size());
  advise_huge_pages(reinterpret_cast<char*>(report_.tests.data()), report_.tests.capacity() * sizeof(TestResult));
  json_entries_.reserve(tests.size());
  junit_testcases_.reserve(tests.size());
  versions_.reserve(tests.size());
  for (const auto& t : tests) {
    TestResult planned;
    planned.binary = t.binary;
    planned.name = t.name;
    planned.status = Status::NotRun;
    planned.message = "not run yet";
    report_.tests.push_back(std::move(planned));
    position_.insert(report_.tests.size() - 1);
    encode(report_.tests.size() - 1);
  }
  write();  // the whole plan, from the very start
}

void ReportFiles::on_result(const TestResult& result) {
  // After a stop signal no rewrite runs before the final one, and on_finish
  // gives that one every result: keeping each here first was a copy of
  // every test a stop writes off (100,000 of them: a tenth of a second).
  if (stop_came()) return;
  std::size_t index = report_.tests.size();
  if (auto it = position_.find(TestKeyView(result.binary, result.name)); it != position_.end()) {
    index = *it;
    update(index, result);
  } else {
    report_.tests.push_back(result);
    encode(index);
  }
  const auto now = time_.now();
  const auto wait = rewrite_spacing(interval_, last_cost_, last_bytes_, kRewriteBytesPerSecond);
  if (now - last_write_ >= wait) {
    write();
  } else {
    flush_after(wait - (now - last_write_));
  }
}

void ReportFiles::on_warning(const std::string& message) {
  report_.warnings.push_back(message);
  if (stop_came()) return;  // the final write has it
  const auto now = time_.now();
  const auto wait = rewrite_spacing(interval_, last_cost_, last_bytes_, kRewriteBytesPerSecond);
  flush_after(now - last_write_ >= wait ? std::chrono::steady_clock::duration::zero() : wait - (now - last_write_));
}

void ReportFiles::flush_after(std::chrono::steady_clock::duration wait) {
  if (flush_pending_) return;
  flush_pending_ = true;
  flush_->start(wait, [this] {
    flush_pending_ = false;
    write();
  });
}

void ReportFiles::on_finish(const std::vector<TestResult>& results, double seconds, bool interrupted) {
  cancel_flush();
  // In plan order. Most results are those on_result had (their pieces are
  // kept); the tests that never ran get their final message here.
  const bool same_tests = results.size() == report_.tests.size();
  if (!same_tests) {
    report_.tests = results;
    json_entries_.clear(), junit_testcases_.clear(), versions_.clear();
    for (std::size_t i = 0; i < results.size(); ++i) encode(i);
  } else {
    for (std::size_t i = 0; i < results.size(); ++i) update(i, results[i]);
  }
  report_.duration_seconds = seconds;
  report_.interrupted = interrupted;
  report_.complete = true;
  write(Rewrite::Final);
}

void ReportFiles::finish_without_tests(const std::string& why, bool interrupted) {
  cancel_flush();
  report_.tests.clear();
  json_entries_.clear(), junit_testcases_.clear(), versions_.clear();
  report_.interrupted = interrupted;
  report_.complete = false;
  report_.error = why;
  write(Rewrite::Final);
}

void ReportFiles::mark_incomplete(const std::string& why) {
  cancel_flush();
  report_.complete = false;
  report_.error = why;
  write(Rewrite::Final);
}

void ReportFiles::cancel_flush() {
  flush_->cancel();
  flush_pending_ = false;
}

void ReportFiles::write(Rewrite kind) {
  const auto begin = time_.now();
  std::function<bool()> stop_came;
  if (kind == Rewrite::Abandonable && setup_.stop_count) stop_came = [this] { return this->stop_came(); };
  if (stop_came && stop_came()) {  // before any work (a baseline's comparison, the pieces)
    ++abandoned_writes_;
    return;
  }
  bool abandoned = false;
  if (!report_.complete) report_.duration_seconds = std::chrono::duration<double>(begin - start_).count();
  if (setup_.baseline)
    report_.baseline = compare_with_baseline(report_.tests, *setup_.baseline, setup_.baseline_source, setup_.slowdown);
  std::uint64_t bytes = 0;
  std::vector<std::string_view> pieces;
  const auto save = [&](const std::optional<std::string>& path) {
    if (!path || abandoned) return;
    auto written = write_file_atomically(*path, pieces, stop_came);
    if (!written) {
      if (!error_) error_ = written.error().message;
    } else if (!*written) {
      abandoned = true;
      return;
    }
    for (auto piece : pieces) bytes += piece.size();
  };
  // Each format is composed only when the rewrite goes on.
  const auto wanted = [&](const std::optional<std::string>& path) {
    if (path && !abandoned && stop_came && stop_came()) abandoned = true;
    return path && !abandoned;
  };
  // The plain not-run tests' text, made afresh (cheaper than kept: see
  // is_plain_not_run()).
  const auto filled = [&](std::vector<EncodedTest>& entries, std::string& buffer,
                          void (*from_template)(std::string&, const TestResult&)) {
    if (!fill_from_templates(entries, buffer, from_template, stop_came)) abandoned = true;
    return !abandoned;
  };
  if (wanted(setup_.json_path) && filled(json_entries_, json_from_templates_, json_not_run_from_template)) {
    const std::string head = json_report_head(report_);
    pieces.clear();
    pieces.reserve(4 * json_entries_.size() + 2);
    pieces.push_back(head);
    for (std::size_t i = 0; i < json_entries_.size(); ++i) {
      pieces.push_back(i == 0 ? "\n" : ",\n");
      json_entries_[i].append_to(pieces);
    }
    pieces.push_back(json_entries_.empty() ? kJsonReportEmptyTail : kJsonReportTail);
    save(setup_.json_path);
  }
  std::string scratch;
  if (wanted(setup_.junit_path) && filled(junit_testcases_, junit_from_templates_, junit_not_run_from_template)) {
    pieces.clear();
    junit_xml_pieces(report_, junit_testcases_, scratch, pieces);
    save(setup_.junit_path);
  }
  if (wanted(setup_.html_path)) {
    pieces.clear();
    html_.render_pieces(report_, &versions_, scratch, pieces);
    save(setup_.html_path);
  }
  bytes_written_ += bytes;
  if (abandoned) {
    // The signal stops the run: the final write comes next. (Nothing is
    // scheduled: every rewrite until then would give up too.)
    ++abandoned_writes_;
    return;
  }
  last_bytes_ = bytes;
  last_write_ = time_.now();
  last_cost_ = last_write_ - begin;
  ++writes_;
}

bool ReportFiles::stop_came() const { return setup_.stop_count && setup_.stop_count() != stops_at_start_; }

bool ReportFiles::fill_from_templates(std::vector<EncodedTest>& entries, std::string& buffer,
                                      void (*from_template)(std::string&, const TestResult&),
                                      const std::function<bool()>& stop_came) {
  // One buffer, reused by every rewrite (its pages are touched once a run,
  // not once a rewrite), then views into it: the buffer does not move once
  // every text is in.
  buffer.clear();
  template_offsets_.clear();
  // Sized once, before it grows (growing it by doubling copied and faulted
  // in most of it twice; later rewrites reuse its capacity): each text is
  // about the first one's, less its fields, plus its own fields.
  const auto fields = [](const TestResult& t) { return t.binary.size() + t.name.size() + t.message.size(); };
  std::size_t estimate = 0, around_fields = 0;
  bool sampled = false;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!entries[i].from_template) continue;
    const TestResult& t = report_.tests[i];
    if (!sampled) {
      from_template(buffer, t);
      around_fields = buffer.size() > fields(t) ? buffer.size() - fields(t) : buffer.size();
      buffer.clear();
      sampled = true;
    }
    estimate += around_fields + fields(t);
  }
  buffer.reserve(estimate);
  advise_huge_pages(buffer.data(), buffer.capacity());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!entries[i].from_template) continue;
    if (template_offsets_.size() % 4096 == 4095 && stop_came && stop_came()) return false;
    template_offsets_.push_back(buffer.size());
    from_template(buffer, report_.tests[i]);
  }
  const std::string_view text = buffer;
  std::size_t k = 0;
  for (auto& entry : entries) {
    if (!entry.from_template) continue;
    const std::size_t end = k + 1 < template_offsets_.size() ? template_offsets_[k + 1] : text.size();
    entry.filled = text.substr(template_offsets_[k], end - template_offsets_[k]);
    ++k;
  }
  return true;
}

}  // namespace xrun
