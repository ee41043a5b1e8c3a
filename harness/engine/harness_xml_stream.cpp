#include "engine/harness_xml_stream.h"

#include <algorithm>
#include <cstdlib>

#include "engine/line_stream.h"

namespace xrun {

namespace {

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

std::string_view trim_view(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

void append_utf8(std::string& out, unsigned long code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

}  // namespace

std::string xml_unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    const auto semicolon = text.find(';', i);
    if (semicolon == std::string_view::npos || semicolon - i > 10) {
      out += '&';
      continue;
    }
    const std::string_view entity = text.substr(i + 1, semicolon - i - 1);
    static constexpr std::pair<std::string_view, char> kNamed[] = {
        {"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
    bool decoded = false;
    for (const auto& [name, c] : kNamed) {
      if (entity == name) {
        out += c;
        decoded = true;
      }
    }
    if (!decoded && entity.size() > 1 && entity[0] == '#') {
      const bool hex = entity[1] == 'x' || entity[1] == 'X';
      const std::string digits(entity.substr(hex ? 2 : 1));
      char* end = nullptr;
      const unsigned long code = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
      if (!digits.empty() && end && *end == '\0' && code <= 0x10FFFF) {
        append_utf8(out, code);
        decoded = true;
      }
    }
    if (!decoded) {
      out += '&';
      continue;
    }
    i = semicolon;
  }
  return out;
}

std::optional<std::string> xml_attribute(std::string_view tag, std::string_view name) {
  std::size_t from = 0;
  while (true) {
    const auto at = tag.find(name, from);
    if (at == std::string_view::npos) return std::nullopt;
    from = at + 1;
    // A whole attribute name: after a space, followed by ="
    if (at == 0 || (tag[at - 1] != ' ' && tag[at - 1] != '\t')) continue;
    const auto rest = tag.substr(at + name.size());
    if (!starts_with(rest, "=\"")) continue;
    const auto close = rest.find('"', 2);
    if (close == std::string_view::npos) return std::nullopt;
    return xml_unescape(rest.substr(2, close - 2));
  }
}

namespace {

class XmlReporterStream final : public LineStream {
 public:
  XmlReporterStream(XmlDialect dialect, StreamEvents events, std::vector<std::string> expected)
      : LineStream(std::move(events)), dialect_(dialect), expected_(std::move(expected)) {}

  bool ambiguous() const override { return ambiguous_; }

 private:
  // The start tag is flushed as the case starts; its newline may come in
  // the next read. Knowing the case now is what lets a hang or a crash in
  // it be blamed on it.
  void on_partial(std::string_view partial) override {
    if (!current_.empty() || ambiguous_) return;
    const std::string_view tag = trim_view(partial);
    if (tag.size() > 1 && tag.back() == '>' && tag[tag.size() - 2] != '/') {
      if (auto name = case_start(tag)) {
        start_case(*name);
        start_line_pending_ = true;
      }
    }
  }

  // "<TestCase name=..." that starts the next of the cases asked for: they
  // run in the order they were listed (--order decl, --dt-order-by=file).
  // Another of ours out of order means the lines cannot be trusted (a child
  // run's report, or an order we did not expect): ambiguous, as GoogleTest's
  // stream is; a name we did not ask for (a case a spec also matched) is
  // output.
  std::optional<std::string> case_start(std::string_view tag) {
    // doctest writes <TestCase .../> for each case its filters left out.
    if (!starts_with(tag, "<TestCase ") || tag.size() < 2 || tag.substr(tag.size() - 2) == "/>") return std::nullopt;
    auto name = xml_attribute(tag, "name");
    if (!name || name->empty()) return std::nullopt;
    if (expected_.empty()) return name;
    // Catch2 writes the name trimmed.
    if (next_ < expected_.size() && trim_view(expected_[next_]) == *name) return expected_[next_++];
    for (std::size_t i = next_ + 1; i < expected_.size(); ++i)
      if (trim_view(expected_[i]) == *name) ambiguous_ = true;
    return std::nullopt;
  }

  void start_case(const std::string& name) {
    verdict_.reset();
    crashing_ = false;
    start_test(name);
  }

  void on_line(std::string_view line, bool had_newline) override {
    if (ambiguous_) {
      emit_output(current_, line, had_newline);
      return;
    }
    const std::string_view tag = trim_view(line);
    if (start_line_pending_) {
      start_line_pending_ = false;
      emit_output(current_, line, had_newline);
      return;
    }
    if (!current_.empty() && crashing_ && starts_with(tag, "<TestCase ")) {
      // It reported a fatal signal and still went on (a handler that did not
      // re-raise it): the case failed, and this may be the next one.
      finish_test(Verdict::Failed);
    }
    if (current_.empty()) {
      if (auto name = case_start(tag)) start_case(*name);
      emit_output(current_, line, had_newline);
      return;
    }
    emit_output(current_, line, had_newline);
    if (dialect_ == XmlDialect::Catch2) {
      if (line.find("<FatalErrorCondition") != std::string_view::npos) crashing_ = true;
      if (const auto at = line.find("<OverallResult "); at != std::string_view::npos) {
        const std::string_view result = line.substr(at);
        const bool success = xml_attribute(result, "success").value_or("") == "true";
        const std::string skips = xml_attribute(result, "skips").value_or("0");
        verdict_ = !success ? Verdict::Failed : skips != "0" && !skips.empty() ? Verdict::Skipped : Verdict::Passed;
      }
    } else {
      if (line.find("<Exception crash=\"true\"") != std::string_view::npos) crashing_ = true;
      if (const auto at = line.find("<OverallResultsAsserts "); at != std::string_view::npos)
        verdict_ = xml_attribute(line.substr(at), "test_case_success").value_or("") == "true" ? Verdict::Passed
                                                                                              : Verdict::Failed;
    }
    if (verdict_ && !crashing_ && line.find("</TestCase>") != std::string_view::npos) finish_test(*verdict_);
  }

  XmlDialect dialect_;
  std::vector<std::string> expected_;
  std::size_t next_ = 0;  // the next of expected_ to start
  bool ambiguous_ = false;
  std::optional<Verdict> verdict_;
  bool crashing_ = false;
  bool start_line_pending_ = false;
};

// A reporter document cut into tags and the text between them.
struct Token {
  bool is_tag = false;
  bool closing = false;       // </x>
  bool self_closing = false;  // <x/>
  std::string_view name;      // the tag's name
  std::string_view text;      // the whole tag, or the text
};

std::vector<Token> tokenize(std::string_view xml) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  while (i < xml.size()) {
    const auto open = xml.find('<', i);
    if (open != i) {
      const auto end = open == std::string_view::npos ? xml.size() : open;
      tokens.push_back({false, false, false, {}, xml.substr(i, end - i)});
      if (open == std::string_view::npos) break;
    }
    const auto close = xml.find('>', open);
    if (close == std::string_view::npos) {
      tokens.push_back({false, false, false, {}, xml.substr(open)});
      break;
    }
    Token t;
    t.is_tag = true;
    t.text = xml.substr(open, close - open + 1);
    std::string_view inner = xml.substr(open + 1, close - open - 1);
    t.closing = starts_with(inner, "/");
    if (t.closing) inner.remove_prefix(1);
    t.self_closing = !inner.empty() && inner.back() == '/';
    const auto name_end = inner.find_first_of(" \t\r\n/");
    t.name = inner.substr(0, name_end);
    tokens.push_back(t);
    i = close + 1;
  }
  return tokens;
}

// Text content: decoded, each line trimmed, blank lines dropped.
std::string clean_text(const std::string& raw) {
  std::string decoded = xml_unescape(raw), out;
  std::size_t start = 0;
  while (start <= decoded.size()) {
    auto newline = decoded.find('\n', start);
    if (newline == std::string::npos) newline = decoded.size();
    const auto line = trim_view(std::string_view(decoded).substr(start, newline - start));
    if (!line.empty()) {
      if (!out.empty()) out += '\n';
      out.append(line);
    }
    start = newline + 1;
  }
  return out;
}

std::string location(std::string_view tag) {
  const auto file = xml_attribute(tag, "filename");
  const auto line = xml_attribute(tag, "line");
  if (!file || file->empty()) return "";
  return *file + (line ? ":" + *line : "") + ": ";
}

}  // namespace

std::unique_ptr<HarnessStream> make_xml_reporter_stream(XmlDialect dialect, StreamEvents events,
                                                        std::vector<std::string> expected) {
  return std::make_unique<XmlReporterStream>(dialect, std::move(events), std::move(expected));
}

std::string xml_failure_text(std::string_view output) {
  const auto tokens = tokenize(output);
  std::vector<std::string> failures;
  // The element whose text is being collected, and what it is part of.
  struct Expression {
    std::string where, type, original, expanded, exception;
  };
  std::optional<Expression> expression;
  std::string capture_name;  // element being collected ("" none)
  std::string captured;
  std::string outer_name, outer_where, outer_kind;  // a failure element outside an expression
  int depth_in_capture = 0;
  for (const auto& t : tokens) {
    if (!capture_name.empty()) {
      if (!t.is_tag) {
        captured.append(t.text);
        continue;
      }
      if (t.name == capture_name && t.closing && depth_in_capture == 0) {
        const std::string text = clean_text(captured);
        if (expression) {
          if (capture_name == "Original")
            expression->original = text;
          else if (capture_name == "Expanded")
            expression->expanded = text;
          else
            expression->exception = text;
        } else {
          failures.push_back(outer_where + outer_kind + text);
        }
        capture_name.clear();
        captured.clear();
        continue;
      }
      // Nested elements (doctest's <Message><Text>): their text counts.
      if (t.name == capture_name) depth_in_capture += t.closing ? -1 : t.self_closing ? 0 : 1;
      continue;
    }
    if (!t.is_tag) continue;
    if (t.name == "Expression" && !t.closing) {
      if (xml_attribute(t.text, "success").value_or("") == "false")
        expression = Expression{location(t.text), xml_attribute(t.text, "type").value_or(""), "", "", ""};
      continue;
    }
    if (t.name == "Expression" && t.closing) {
      if (expression) {
        std::string text = expression->where + expression->type + "( " + expression->original + " )";
        if (!expression->expanded.empty() && expression->expanded != expression->original)
          text += "\nwith expansion:\n  " + expression->expanded;
        if (!expression->exception.empty()) text += "\ndue to unexpected exception:\n  " + expression->exception;
        failures.push_back(std::move(text));
      }
      expression.reset();
      continue;
    }
    if (t.closing || t.self_closing) continue;
    if (expression && (t.name == "Original" || t.name == "Expanded" || t.name == "Exception")) {
      capture_name = std::string(t.name);
      continue;
    }
    if (expression) continue;
    std::string kind;
    if (t.name == "Failure")
      kind = "";
    else if (t.name == "FatalErrorCondition")
      kind = "fatal error condition: ";
    else if (t.name == "Exception")
      kind = "unexpected exception: ";
    else if (t.name == "Message" && xml_attribute(t.text, "type").value_or("").find("ERROR") != std::string::npos)
      kind = xml_attribute(t.text, "type").value_or("") + ": ";
    else
      continue;
    if (xml_attribute(t.text, "crash").value_or("") == "true") kind = "crash: ";
    capture_name = std::string(t.name);
    outer_where = location(t.text);
    outer_kind = kind;
    depth_in_capture = 0;
  }
  std::string out;
  for (const auto& f : failures) {
    if (!out.empty()) out += '\n';
    out += f;
  }
  return out;
}

}  // namespace xrun
