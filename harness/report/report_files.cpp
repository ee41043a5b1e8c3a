#include "report/report_files.h"

#include "core/fs_util.h"
#include "report/junit.h"

namespace xrun {

std::chrono::steady_clock::duration rewrite_spacing(std::chrono::milliseconds interval,
                                                    std::chrono::steady_clock::duration last_cost,
                                                    std::uint64_t last_bytes, double bytes_per_second) {
  const auto by_bytes = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(static_cast<double>(last_bytes) / bytes_per_second));
  return std::max<std::chrono::steady_clock::duration>({interval, 4 * last_cost, by_bytes});
}

ReportFiles::ReportFiles(boost::asio::io_context& io, ReportSetup setup, std::chrono::milliseconds interval,
                         TimeSource* time)
    : setup_(std::move(setup)),
      interval_(interval),
      own_time_(time ? nullptr : steady_time(io)),
      time_(time ? *time : *own_time_),
      flush_(time_.make_timer()) {
  report_.partition = setup_.partition;
  report_.command_line = setup_.command_line;
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
  if (setup_.json_path) json_entries_[index] = json_test_encoding(t), ++encodings_;
  if (setup_.junit_path) junit_testcases_[index] = junit_testcase_encoding(t), ++encodings_;
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
  json_entries_.clear();
  junit_testcases_.clear();
  versions_.clear();
  for (const auto& t : tests) {
    TestResult planned;
    planned.binary = t.binary;
    planned.name = t.name;
    planned.status = Status::NotRun;
    planned.message = "not run yet";
    position_.emplace(std::pair{t.binary, t.name}, report_.tests.size());
    report_.tests.push_back(std::move(planned));
    encode(report_.tests.size() - 1);
  }
  write();  // the whole plan, from the very start
}

void ReportFiles::on_result(const TestResult& result) {
  std::size_t index = report_.tests.size();
  if (auto it = position_.find(TestKeyView(result.binary, result.name)); it != position_.end()) {
    index = it->second;
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
  if (kind == Rewrite::Abandonable && setup_.stop_count)
    stop_came = [this] { return setup_.stop_count() != stops_at_start_; };
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
  if (wanted(setup_.json_path)) {
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
  if (wanted(setup_.junit_path)) {
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

}  // namespace xrun
