// example_check: runs an example program and checks what it prints and how
// long it takes.
//
//     example_check EXPECTED MIN_SECONDS MAX_SECONDS PROGRAM [ARGS...]
//
// Every line the program writes (stdout and stderr together, so that a stray
// error report fails the test) must match the line of EXPECTED at the same
// place: exactly, except that `{time}` in EXPECTED stands for a wall-clock
// time HH:MM:SS. The run must last between MIN and MAX seconds of wall time:
// the lower bound shows that the waits really happen, the upper one that
// those meant to overlap do. Upper bounds are generous (a loaded CI machine)
// but below what the program would take if it ran its waits one by one.
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

// Whether `s` starts with a time HH:MM:SS.
bool starts_with_time(std::string_view s) {
    if (s.size() < 8) return false;
    for (std::size_t i = 0; i < 8; ++i) {
        bool colon = i == 2 || i == 5;
        if (colon ? s[i] != ':' : !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    }
    return true;
}

// Whether `got` matches the pattern line `want` (see the top of the file).
bool line_matches(std::string_view want, std::string_view got) {
    constexpr std::string_view placeholder = "{time}";
    while (true) {
        std::size_t at = want.find(placeholder);
        if (at == std::string_view::npos) return want == got;
        if (got.substr(0, at) != want.substr(0, at)) return false;
        got.remove_prefix(at);
        if (!starts_with_time(got)) return false;
        got.remove_prefix(8);
        want.remove_prefix(at + placeholder.size());
    }
}

// Runs argv[0] with its arguments; returns its output and wait status.
std::string run(char** argv, int& status) {
    int fds[2];
    if (::pipe(fds) != 0) {
        std::perror("example_check: pipe");
        std::exit(2);
    }
    pid_t pid = ::fork();
    if (pid < 0) {
        std::perror("example_check: fork");
        std::exit(2);
    }
    if (pid == 0) {
        ::dup2(fds[1], STDOUT_FILENO);
        ::dup2(fds[1], STDERR_FILENO);
        ::close(fds[0]);
        ::close(fds[1]);
        ::execv(argv[0], argv);
        std::perror("example_check: exec");
        std::_Exit(127);
    }
    ::close(fds[1]);
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) != 0;) {
        if (n > 0) out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    ::waitpid(pid, &status, 0);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 5) {
        std::cerr << "usage: example_check EXPECTED MIN_SECONDS MAX_SECONDS PROGRAM [ARGS...]\n";
        return 2;
    }
    std::ifstream expected_file(argv[1]);
    if (!expected_file) {
        std::cerr << "example_check: cannot read " << argv[1] << "\n";
        return 2;
    }
    std::stringstream expected_text;
    expected_text << expected_file.rdbuf();
    const double min_s = std::strtod(argv[2], nullptr);
    const double max_s = std::strtod(argv[3], nullptr);

    auto start = std::chrono::steady_clock::now();
    int status = 0;
    std::string got_text = run(argv + 4, status);
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;

    std::vector<std::string> want = lines_of(expected_text.str());
    std::vector<std::string> got = lines_of(got_text);
    std::vector<std::string> problems;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        problems.push_back("the program failed (wait status " + std::to_string(status) + ")");
    }
    for (std::size_t i = 0; i < std::max(want.size(), got.size()); ++i) {
        const std::string w = i < want.size() ? want[i] : "<nothing>";
        const std::string g = i < got.size() ? got[i] : "<nothing>";
        if (i >= want.size() || i >= got.size() || !line_matches(w, g)) {
            problems.push_back("line " + std::to_string(i + 1) + " differs:\n  expected: " + w +
                               "\n  got:      " + g);
            break;
        }
    }
    if (elapsed.count() < min_s || elapsed.count() > max_s) {
        problems.push_back("took " + std::to_string(elapsed.count()) + " s, expected " + argv[2] +
                           " to " + argv[3] + " s");
    }
    std::cout << "--- output (" << elapsed.count() << " s)\n" << got_text;
    if (problems.empty()) return 0;
    std::cout << "--- expected\n" << expected_text.str();
    for (const std::string& p : problems)
        std::cout << "--- FAIL: " << p << "\n";
    return 1;
}
