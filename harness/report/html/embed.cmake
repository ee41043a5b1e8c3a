# Compiles the HTML report's page, style and script into C++ (run at build
# time): xrun writes a report with no data files installed, and an edit to
# report.js rebuilds it.
#   cmake -DHTML_DIR=... -DOUTPUT=... -P embed.cmake
file(READ ${HTML_DIR}/report.html page)
file(READ ${HTML_DIR}/report.css style)
file(READ ${HTML_DIR}/report.js script)
string(REPLACE "@XRUN_CSS@" "${style}" page "${page}")
string(REPLACE "@XRUN_JS@" "${script}" page "${page}")
string(FIND "${page}" "@XRUN_DATA@" at)
if(at EQUAL -1)
  message(FATAL_ERROR "report.html has no @XRUN_DATA@")
endif()
string(SUBSTRING "${page}" 0 ${at} before)
math(EXPR after_at "${at} + 11")
string(SUBSTRING "${page}" ${after_at} -1 after)
foreach(part before after)
  string(FIND "${${part}}" ")XRUNHTML\"" clash)
  if(NOT clash EQUAL -1)
    message(FATAL_ERROR "the HTML report's sources contain the raw-string delimiter")
  endif()
endforeach()
file(WRITE ${OUTPUT}.tmp
  "// Generated from harness/report/html by embed.cmake: edit those files.\n"
  "namespace xrun {\n"
  "extern const char kHtmlReportBeforeData[] = R\"XRUNHTML(${before})XRUNHTML\";\n"
  "extern const char kHtmlReportAfterData[] = R\"XRUNHTML(${after})XRUNHTML\";\n"
  "}  // namespace xrun\n")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUTPUT}.tmp)
