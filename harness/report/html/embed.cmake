# Compiles the HTML report's page, style and script into C++ (run at build
# time): xrun writes a report with no data files installed, and an edit to
# report.js rebuilds it.
#   cmake -DHTML_DIR=... -DOUTPUT=... -P embed.cmake
file(READ ${HTML_DIR}/report.html page)
file(READ ${HTML_DIR}/report.css style)
file(READ ${HTML_DIR}/report.js script)

# A Content-Security-Policy source for an inline element's text:
# 'sha256-<base64 of its SHA-256>'. The page allows only its own style and
# script by hash and nothing else (no network, no other script): even a test
# output that became markup through a bug could not run or fetch anything.
function(csp_hash text out)
  string(SHA256 hex "${text}")
  set(alphabet "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
  set(base64 "")
  # 32 bytes: ten groups of 3 bytes (4 characters each), then 2 bytes and "=".
  foreach(at RANGE 0 60 6)
    if(at EQUAL 60)
      string(SUBSTRING "${hex}" 60 4 last)
      math(EXPR bits "0x${last} << 2")   # 16 bits padded to 18: three characters
      set(count 3)
    else()
      string(SUBSTRING "${hex}" ${at} 6 group)
      math(EXPR bits "0x${group}")
      set(count 4)
    endif()
    foreach(i RANGE 1 ${count})
      math(EXPR shift "6 * (${count} - ${i})")
      math(EXPR index "(${bits} >> ${shift}) & 63")
      string(SUBSTRING "${alphabet}" ${index} 1 char)
      string(APPEND base64 "${char}")
    endforeach()
  endforeach()
  set(${out} "'sha256-${base64}='" PARENT_SCOPE)
endfunction()
# report.html puts each on lines of its own: <style>\n@XRUN_CSS@\n</style>.
string(FIND "${page}" "<style>\n@XRUN_CSS@\n</style>" style_at)
string(FIND "${page}" "<script>\n@XRUN_JS@\n</script>" script_at)
if(style_at EQUAL -1 OR script_at EQUAL -1)
  message(FATAL_ERROR "report.html must hold <style>, @XRUN_CSS@, </style> and <script>, @XRUN_JS@, </script> on lines of their own")
endif()
csp_hash("\n${style}\n" style_hash)
csp_hash("\n${script}\n" script_hash)
string(REPLACE "@XRUN_CSS_HASH@" "${style_hash}" page "${page}")
string(REPLACE "@XRUN_JS_HASH@" "${script_hash}" page "${page}")
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
