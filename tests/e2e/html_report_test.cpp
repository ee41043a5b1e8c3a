// The HTML report as a person sees it: real runs of the hostile GoogleTest
// suite under qemu-user, their reports opened from file:// in headless
// Chromium (and Firefox ESR), and the DOM the page's script built checked
// against the JSON report of the same run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "e2e/xrun_runner.h"
#include "support/browser.h"
#include "support/firefox.h"
#include "support/report_json.h"
#include "support/temp_dir.h"

namespace xrun::testing {
namespace {

using nlohmann::json;

// Chip counts as the page shows them: status -> count.
std::map<std::string, int> chip_counts(const std::string& dom) {
  std::map<std::string, int> out;
  const std::regex chip(R"re(data-status="([a-z-]+)" data-count="(\d+)")re");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), chip); it != std::sregex_iterator(); ++it)
    out[(*it)[1]] = std::stoi((*it)[2]);
  return out;
}

// The names of the rows in the list, in order.
std::vector<std::string> row_names(const std::string& dom) {
  return all_matches(dom, R"re(<span class="name"[^>]*>[^<]* ([^<]+)</span>)re");
}
std::vector<std::string> row_statuses(const std::string& dom) {
  return all_matches(dom, R"re(class="row[^"]*" href="[^"]*" data-index="\d+" data-status="([a-z-]+)")re");
}
std::string shown_count(const std::string& dom) { return all_matches(dom, R"re(data-shown="(\d+)")re").at(0); }

class HtmlReportInBrowser : public ::testing::Test {
 protected:
  // One run of the whole suite: every status the page has a chip for but
  // infra-error and not-run (CtrlC... below has not-run).
  void SetUp() override {
    auto r = run_xrun(
        {"test", XRUN_GTEST_SUITE, "--timeout", "2", "--retries", "1", "--json", json_path_, "--html", html_path_},
        {.env = environment_with({"FLAKY_DIR=" + dir_.path(), "SPEW_BYTES=20000"}), .timeout_seconds = 240});
    ASSERT_EQ(r.exit_code, 1) << describe(r);
    report_ = read_json(json_path_);
  }
  int index_of(const std::string& name) const {
    for (std::size_t i = 0; i < report_["tests"].size(); ++i)
      if (report_["tests"][i]["name"] == name) return static_cast<int>(i);
    ADD_FAILURE() << name << " is not in the report";
    return -1;
  }

  TempDir dir_;
  const std::string json_path_ = dir_.path() + "/r.json";
  const std::string html_path_ = dir_.path() + "/r.html";
  json report_;
};

TEST_F(HtmlReportInBrowser, EveryChipCountsWhatTheJsonReportCounts) {
  const auto page = load_in_chromium(html_path_);
  ASSERT_TRUE(page.loaded) << page.problem;
  const auto chips = chip_counts(page.dom);
  for (const auto& [status, count] : report_["summary"].items()) {
    const std::string chip = status == "total" ? "all" : status;
    ASSERT_TRUE(chips.count(chip)) << "no chip for " << status;
    EXPECT_EQ(chips.at(chip), count.get<int>()) << status;
  }
  EXPECT_GT(chips.at("flaky"), 0);
  EXPECT_GT(chips.at("timed-out"), 0);
  EXPECT_EQ(shown_count(page.dom), std::to_string(report_["tests"].size()));
  // The run's own facts are in the header.
  EXPECT_NE(page.dom.find("<dt>command</dt><dd>xrun test " + std::string(XRUN_GTEST_SUITE)), std::string::npos);
  EXPECT_NE(page.dom.find("<dt>started</dt><dd>" + report_["started_at"].get<std::string>() + "</dd>"),
            std::string::npos);
}

TEST_F(HtmlReportInBrowser, ACrashedTestShowsItsSignal) {
  const auto list = load_in_chromium(html_path_, "status=crashed");
  ASSERT_TRUE(list.loaded) << list.problem;
  EXPECT_EQ(row_names(list.dom), (std::vector<std::string>{"Crash.Segfault", "Crash.Abort"}));
  EXPECT_NE(list.dom.find("crashed (SIGSEGV 1, SIGABRT 1)"), std::string::npos) << "the chip names the signals";

  const auto detail = load_in_chromium(html_path_, "status=crashed&test=" + std::to_string(index_of("Crash.Segfault")));
  ASSERT_TRUE(detail.loaded) << detail.problem;
  EXPECT_NE(detail.dom.find("<th>signal</th><td>11 (SIGSEGV)</td>"), std::string::npos);
  EXPECT_NE(detail.dom.find("<th>ran on</th><td>qemu-user · aarch64</td>"), std::string::npos);
  const std::string output = element_inner_html(detail.dom, R"(<pre id="output" data-state="ready">)", "pre");
  EXPECT_NE(output.find("before the crash"), std::string::npos) << output;
}

TEST_F(HtmlReportInBrowser, ASearchNarrowsTheListByNameAndByOutput) {
  const auto by_name = load_in_chromium(html_path_, "q=segf");
  ASSERT_TRUE(by_name.loaded) << by_name.problem;
  EXPECT_EQ(row_names(by_name.dom), std::vector<std::string>{"Crash.Segfault"});
  EXPECT_EQ(shown_count(by_name.dom), "1");
  // Only in a test's output; Spew.Output's is compressed in the page and
  // searched in the background.
  const auto by_output = load_in_chromium(html_path_, "q=invalid%20utf-8");
  ASSERT_TRUE(by_output.loaded) << by_output.problem;
  EXPECT_EQ(row_names(by_output.dom), std::vector<std::string>{"Hostile.Output"});
  const auto compressed = load_in_chromium(html_path_, "q=yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy");
  ASSERT_TRUE(compressed.loaded) << compressed.problem;
  EXPECT_EQ(row_names(compressed.dom), std::vector<std::string>{"Spew.Output"});
}

TEST_F(HtmlReportInBrowser, ChipsFilterTheListAndTheLinkKeepsTheView) {
  const auto page = load_in_chromium(html_path_, "status=failed,timed-out&sort=name");
  ASSERT_TRUE(page.loaded) << page.problem;
  EXPECT_EQ(row_names(page.dom), (std::vector<std::string>{"Fail.Assertion", "Hang.Forever"}));
  EXPECT_EQ(row_statuses(page.dom), (std::vector<std::string>{"failed", "timed-out"}));
  // The chips of the view are shown as chosen.
  EXPECT_NE(page.dom.find(R"(data-status="failed" data-count="1" class="active")"), std::string::npos);
  EXPECT_NE(page.dom.find(R"(data-status="timed-out" data-count="1" class="active")"), std::string::npos);
  EXPECT_NE(page.dom.find(R"(data-sort="name" class="active")"), std::string::npos);
}

TEST_F(HtmlReportInBrowser, HostileOutputIsShownAsTextNeverAsMarkup) {
  const auto page = load_in_chromium(html_path_, "test=" + std::to_string(index_of("Hostile.Output")));
  ASSERT_TRUE(page.loaded) << page.problem;
  const std::string output = element_inner_html(page.dom, R"(<pre id="output" data-state="ready">)", "pre");
  ASSERT_FALSE(output.empty()) << "the output was never shown";
  // The output printed </script>, <script>, <img onerror>: all of it text.
  EXPECT_NE(output.find("&lt;/script&gt;&lt;script&gt;document.documentElement.dataset.pwned"), std::string::npos)
      << output;
  EXPECT_NE(output.find("&lt;img src=x onerror="), std::string::npos) << output;
  EXPECT_NE(output.find("&lt;tag&gt; &amp;"), std::string::npos) << output;
  EXPECT_EQ(std::regex_search(page.dom, std::regex("<html[^>]* data-pwned")), false) << "the output's script ran";
  // ANSI red rendered as colour, control bytes and the NUL as \xNN, invalid
  // UTF-8 as U+FFFD; the only elements in the output are xrun's own spans.
  EXPECT_NE(output.find(R"(<span style="color: rgb(205, 49, 49);">red</span>)"), std::string::npos) << output;
  EXPECT_NE(output.find(R"(nul <span class="ctl">\x00</span> byte)"), std::string::npos) << output;
  EXPECT_NE(output.find(R"(<span class="ctl">\x07</span>)"), std::string::npos) << output;
  EXPECT_NE(output.find("\xef\xbf\xbd invalid utf-8"), std::string::npos) << output;
  const std::string tags_removed = std::regex_replace(output, std::regex(R"(<span[^>]*>|</span>)"), "");
  EXPECT_EQ(tags_removed.find('<'), std::string::npos) << "markup in the output: " << output;
}

// Defence in depth: the page's Content-Security-Policy allows its own
// script and style and nothing else, so markup that reached the page by a
// bug could neither run nor fetch. Its own script still runs (the page
// renders), which also shows the policy's hashes are the embedded script's.
TEST_F(HtmlReportInBrowser, ThePagePolicyBlocksAnyScriptButItsOwn) {
  std::ifstream in(html_path_);
  std::string html((std::istreambuf_iterator<char>(in)), {});
  const std::string injected =
      "<img src=\"x\" onerror=\"document.documentElement.dataset.pwned='img'\">"
      "<script>document.documentElement.dataset.pwned='script'</script>";
  html.insert(html.find("<body>") + 6, injected);
  const std::string tampered = dir_.path() + "/tampered.html";
  std::ofstream(tampered) << html;
  const auto page = load_in_chromium(tampered);
  ASSERT_TRUE(page.loaded) << page.problem;
  EXPECT_EQ(std::regex_search(page.dom, std::regex("<html[^>]* data-pwned")), false) << "injected markup ran";
  EXPECT_EQ(chip_counts(page.dom).at("all"), report_["summary"]["total"].get<int>());
}

// The same page in Firefox ESR, from file://, driven over WebDriver BiDi:
// the counts, a crashed test's signal, hostile output as text, and a
// compressed output decoded (DecompressionStream) as in Chromium.
TEST_F(HtmlReportInBrowser, FirefoxShowsTheSameReport) {
  Firefox firefox;
  ASSERT_TRUE(firefox.ready()) << firefox.problem();
  // In the page: wait until the selected test's output is shown, then say
  // what a person sees.
  const std::string what_is_shown = R"js(new Promise((done) => {
    const look = () => {
      const output = document.getElementById('output');
      if (document.documentElement.dataset.ready !== 'true' || !output || output.dataset.state !== 'ready')
        return setTimeout(look, 20);
      const signal = [...document.querySelectorAll('#detail th')].find((th) => th.textContent === 'signal');
      done(JSON.stringify({
        chips: Object.fromEntries([...document.querySelectorAll('#chips [data-status]')]
                                    .map((chip) => [chip.dataset.status, Number(chip.dataset.count)])),
        rows: [...document.querySelectorAll('#rows .row .name')].map((name) => name.textContent),
        signal: signal ? signal.nextSibling.textContent : null,
        output: output.textContent,
        elements: [...output.querySelectorAll('*')].map((e) => e.tagName + '.' + e.className),
        pwned: document.documentElement.dataset.pwned || null,
      }));
    };
    look();
  }))js";
  int load = 0;
  const auto show = [&](const std::string& fragment) {
    // A query of its own: each is a whole new load, not a fragment change.
    const std::string url = "file://" + html_path_ + "?load=" + std::to_string(++load) + "#" + fragment;
    auto shown = json::parse(firefox.evaluate_at(url, what_is_shown), nullptr, false);
    EXPECT_TRUE(shown.is_object()) << url << ": " << firefox.problem();
    return shown.is_object() ? shown : json::object();
  };
  const auto crashed = show("status=crashed&test=" + std::to_string(index_of("Crash.Segfault")));
  for (const auto& [status, count] : report_["summary"].items())
    EXPECT_EQ(crashed["chips"][status == "total" ? "all" : status], count) << status;
  EXPECT_EQ(crashed["rows"], json({"suite_tests Crash.Segfault", "suite_tests Crash.Abort"}));
  EXPECT_EQ(crashed["signal"], "11 (SIGSEGV)");
  EXPECT_NE(crashed.value("output", "").find("before the crash"), std::string::npos) << crashed.dump();

  const auto hostile = show("test=" + std::to_string(index_of("Hostile.Output")));
  EXPECT_NE(hostile.value("output", "").find("</script><script>document.documentElement.dataset.pwned"),
            std::string::npos)
      << hostile.dump();
  EXPECT_NE(hostile.value("output", "").find("nul \\x00 byte"), std::string::npos) << hostile.dump();
  for (const auto& element : hostile["elements"])
    EXPECT_EQ(element.get<std::string>().rfind("SPAN.", 0), 0u) << element;
  EXPECT_TRUE(hostile["pwned"].is_null());

  const auto compressed = show("test=" + std::to_string(index_of("Spew.Output")));
  EXPECT_NE(compressed.value("output", "").find(std::string(99, 'y')), std::string::npos) << compressed.dump();
}

// `xrun report html RUN.json --baseline PREV.json`: the comparison comes
// first on the page, new failures open.
TEST_F(HtmlReportInBrowser, TheBaselinesNewFailuresAreShownFirst) {
  json baseline = report_;
  json& tests = baseline["tests"];
  json gone = tests[0];
  gone["name"] = "Gone.Away";  // not there now: removed
  for (auto& t : tests) {
    if (t["name"] == "Crash.Segfault") t["status"] = "passed";  // now crashed: a new failure
    if (t["name"] == "Pass.Simple") t["status"] = "failed";     // now passed: fixed
  }
  tests.erase(tests.begin() + index_of("Pass.Threads"));  // now there: a new test
  tests.push_back(gone);
  const std::string previous = dir_.path() + "/previous.json";
  std::ofstream(previous) << baseline.dump();

  const std::string html = dir_.path() + "/compared.html";
  auto r = run_xrun({"report", "html", json_path_, "--baseline", previous, "-o", html});
  EXPECT_EQ(r.exit_code, 1) << describe(r);  // the run's verdict
  EXPECT_NE(r.out.find("wrote " + html + ": 17 tests from 1 report"), std::string::npos) << r.out;
  const auto page = load_in_chromium(html);
  ASSERT_TRUE(page.loaded) << page.problem;
  const std::size_t section = page.dom.find(R"(<section id="baseline">)");
  ASSERT_NE(section, std::string::npos) << "no baseline section shown";
  EXPECT_LT(section, page.dom.find(R"(<nav id="controls">)")) << "the comparison comes before the list";
  const std::string new_failures =
      element_inner_html(page.dom, R"(<details id="baseline-new_failures" data-count="1" open="")", "details");
  EXPECT_NE(new_failures.find("suite_tests Crash.Segfault  (passed → crashed)"), std::string::npos) << page.dom;
  for (const char* other : {"fixed", "new_tests", "removed_tests"})
    EXPECT_NE(page.dom.find("<details id=\"baseline-" + std::string(other) + "\" data-count=\"1\">"), std::string::npos)
        << other;
  EXPECT_NE(page.dom.find("suite_tests Gone.Away  (was passed)"), std::string::npos);
}

// The shards of a --partition run make one page: `xrun report html` merges
// them as `xrun report merge` does.
TEST(HtmlReportOfShards, TheShardsMakeOnePage) {
  TempDir dir;
  std::vector<std::string> shards;
  for (const char* k : {"1", "2"}) {
    shards.push_back(dir.path() + "/shard-" + k + ".json");
    run_xrun({"test", XRUN_GTEST_SUITE, "--filter", "Pass.*", "--filter", "Crash.*", "--partition",
              std::string(k) + "/2", "--json", shards.back()},
             {.timeout_seconds = 120});
  }
  const std::string html = dir.path() + "/all.html";
  auto r = run_xrun({"report", "html", shards[0], shards[1], "-o", html});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.out.find("wrote " + html + ": 4 tests from 2 reports"), std::string::npos) << r.out;
  const auto page = load_in_chromium(html);
  ASSERT_TRUE(page.loaded) << page.problem;
  const auto chips = chip_counts(page.dom);
  EXPECT_EQ(chips.at("all"), 4);
  EXPECT_EQ(chips.at("passed"), 2);
  EXPECT_EQ(chips.at("crashed"), 2);
  EXPECT_EQ(page.dom.find("<dt>partition</dt>"), std::string::npos) << "the merged run is no shard";
}

// 20,000 tests: only the rows in sight are in the DOM (what keeps scrolling
// smooth), and the counts and the last test are still all there.
TEST(HtmlReportOfManyTests, OnlyTheRowsInSightAreInTheDom) {
  TempDir dir;
  json report = {{"schema", "xrun-test-report/1"},
                 {"started_at", "2026-12-03T00:00:00Z"},
                 {"complete", true},
                 {"tests", json::array()}};
  for (int i = 0; i < 20000; ++i)
    report["tests"].push_back({{"binary", "/b/suite"},
                               {"name", "Many.Case" + std::to_string(i)},
                               {"status", i % 100 == 99 ? "failed" : "passed"},
                               {"duration_seconds", 0.001},
                               {"attempts", 1},
                               {"output", "case " + std::to_string(i) + "\n"}});
  const std::string input = dir.path() + "/many.json", html = dir.path() + "/many.html";
  std::ofstream(input) << report.dump();
  auto r = run_xrun({"report", "html", input, "-o", html});
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  const auto page = load_in_chromium(html, "sort=name&q=case19999");
  ASSERT_TRUE(page.loaded) << page.problem;
  EXPECT_EQ(row_names(page.dom), std::vector<std::string>{"Many.Case19999"});
  for (const char* window : {"800,600", "1600,1000"}) {  // the narrow layout and the wide one
    const auto all = load_in_chromium(html, "", window);
    ASSERT_TRUE(all.loaded) << all.problem;
    EXPECT_EQ(chip_counts(all.dom).at("all"), 20000);
    EXPECT_EQ(chip_counts(all.dom).at("failed"), 200);
    EXPECT_EQ(shown_count(all.dom), "20000");
    const auto rows = row_names(all.dom).size();
    EXPECT_GT(rows, 10u) << window;
    EXPECT_LT(rows, 200u) << window << ": the list put every row into the DOM";
  }
}

// Ctrl-C mid-run: the HTML written so far is complete and says so.
TEST(HtmlReportAfterCtrlC, SaysTheRunWasInterruptedAndCountsWhatDidNotRun) {
  TempDir dir;
  const std::string json_path = dir.path() + "/r.json", html_path = dir.path() + "/r.html";
  const pid_t pid = start_xrun({"test", XRUN_GTEST_SUITE, "--filter", "Hang.*", "--filter", "Pass.*", "-j2", "--json",
                                json_path, "--html", html_path},
                               environment_with({}));
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_for_results(json_path, {"Pass.Threads", "Pass.Simple"}, 30)) << "the passing tests never finished";
  const int status = interrupt_xrun(pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 130) << "status " << status;
  const auto page = load_in_chromium(html_path);
  ASSERT_TRUE(page.loaded) << page.problem;
  EXPECT_NE(page.dom.find("The run was interrupted"), std::string::npos);
  const auto chips = chip_counts(page.dom);
  EXPECT_EQ(chips.at("passed"), 2);
  EXPECT_EQ(chips.at("not-run"), 1);
}

}  // namespace
}  // namespace xrun::testing
