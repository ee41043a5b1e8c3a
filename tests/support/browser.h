// A real browser for the HTML report's tests: Debian's Chromium, headless,
// loading a report from file:// and dumping the DOM its script built.
#pragma once

#include <regex>
#include <string>
#include <vector>

#include "support/subprocess.h"
#include "support/temp_dir.h"

namespace xrun::testing {

struct PageDump {
  bool loaded = false;
  std::string dom;      // the document after its script ran
  std::string problem;  // why it did not load (for assertion messages)
};

// Opens `path` (a file) with `fragment` ("status=crashed&q=x", no '#') and
// returns the DOM once the page settled. --virtual-time-budget lets the
// page's timers and promises (background output decoding) run to the end
// without the test waiting in real time.
// `window` is "WIDTH,HEIGHT" (default: headless Chromium's 800x600, which
// the page lays out as a narrow window).
inline PageDump load_in_chromium(const std::string& path, const std::string& fragment = "",
                                 const std::string& window = "800,600") {
  TempDir profile;  // a profile per load: tests run side by side
  const std::string url = "file://" + path + (fragment.empty() ? "" : "#" + fragment);
  auto r = run({XRUN_CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--user-data-dir=" + profile.path(), "--window-size=" + window, "--virtual-time-budget=20000",
                "--dump-dom", url},
               {.timeout_seconds = 120});
  PageDump page;
  page.dom = r.out;
  page.loaded = r.exited && r.exit_code == 0 && page.dom.find("data-ready=\"true\"") != std::string::npos;
  if (!page.loaded)
    page.problem = "chromium (" + std::string(XRUN_CHROMIUM) + ") did not render " + url + ":\n" + describe(r);
  return page;
}

// The first capture group of every match of `pattern` in `text`.
inline std::vector<std::string> all_matches(const std::string& text, const std::string& pattern) {
  std::vector<std::string> out;
  const std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1].str());
  return out;
}

// The text of the element that `open_tag_pattern` starts (no nested
// element of the same tag): "<pre id=\"output\"[^>]*>" -> what is inside.
inline std::string element_inner_html(const std::string& dom, const std::string& open_tag_pattern,
                                      const std::string& tag) {
  std::smatch m;
  if (!std::regex_search(dom, m, std::regex(open_tag_pattern))) return "";
  const std::size_t start = m.position(0) + m.length(0);
  const std::size_t end = dom.find("</" + tag + ">", start);
  return end == std::string::npos ? "" : dom.substr(start, end - start);
}

}  // namespace xrun::testing
