// Runs a command and streams its output line by line as it comes, then
// reports its exit code (asyncio's create_subprocess_exec with
// stdout=PIPE, reading proc.stdout.readline() in a loop).
//
//     subprocess_demo                          # a small shell loop
//     subprocess_demo -- ping -c 3 127.0.0.1   # any command
#include <cstdio>
#include <string>
#include <vector>

#include <weft/cli.hpp>
#include <weft/weft.hpp>

weft::task<int> run_command(std::vector<std::string> argv) {
    std::string shown;
    for (const std::string& a : argv)
        shown += (shown.empty() ? "" : " ") + a;
    std::printf("running: %s\n", shown.c_str());
    std::fflush(stdout);
    weft::process proc = co_await weft::create_subprocess_exec(
        argv, {.std_out = weft::stdio::pipe, .std_err = weft::stdio::to_stdout});
    int n = 0;
    // Each line as soon as the command prints it, not when it ends.
    for (std::string line; !(line = co_await proc.std_out->readline()).empty();) {
        std::printf("[%d] %s", ++n, line.c_str());
        if (line.back() != '\n') std::printf("\n");
        std::fflush(stdout);
    }
    int code = co_await proc.wait();
    std::printf("exit code: %d\n", code);
    co_return code;
}

int main(int argc, char** argv) {
    CLI::App app{"runs a command and streams its output line by line"};
    int threads = 1;
    weft::cli::add_threads(app, threads);
    std::vector<std::string> command = {"sh", "-c",
                                        "for i in 1 2 3; do echo \"line $i\"; sleep 0.2; done"};
    app.add_option("command", command, "the command and its arguments (after --)");
    weft::cli::parse(app, argc, argv);
    try {
        return weft::run(run_command(command), {.threads = threads}) == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "subprocess_demo: %s\n", e.what());
        return 1;
    }
}
