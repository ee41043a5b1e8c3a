// The board backend: real boards over SSH, each running xrun's agent (sent
// once by content hash), as machines of the machine pool (board.h).
// docs/boards.md.
#include "backends/backend.h"
#include "backends/board/board.h"

namespace xrun {

namespace {

constexpr BinaryFormat kFormats[] = {BinaryFormat::Elf};

// Any target: a board's machine is checked against it on first contact.
bool runs(const TargetSpec&, const ElfInfo*) { return true; }

std::unique_ptr<JobRunner> make_runner(boost::asio::io_context& io, const Config& config,
                                       const RunnerOptions& options) {
  return make_board_runner(io, config, options.fork_server);
}

}  // namespace

extern const Backend kBoardBackend;
constexpr Backend kBoardBackend{
    .name = "board",
    .help = "a real board over SSH ([boards.NAME] in xrun.toml) running xrun's agent",
    .family = BackendFamily::Machine,
    .choosable = true,
    .is_default = false,
    .formats = kFormats,
    .runs = runs,
    .execs_in_place = false,
    .foreign_exec = false,
    .flags = {},
    .make_runner = make_runner,
};

}  // namespace xrun
