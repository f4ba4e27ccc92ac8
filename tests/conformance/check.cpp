// conformance_check PROGRAM EXPECTED: runs PROGRAM and compares its stdout with
// the file EXPECTED line for line; prints both traces on a mismatch.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {
std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: conformance_check PROGRAM EXPECTED\n";
        return 2;
    }
    std::ifstream exp_file(argv[2]);
    if (!exp_file) {
        std::cerr << "conformance_check: cannot read " << argv[2] << "\n";
        return 2;
    }
    std::stringstream exp_text;
    exp_text << exp_file.rdbuf();
    FILE* p = ::popen(argv[1], "r");
    if (!p) {
        std::cerr << "conformance_check: cannot run " << argv[1] << "\n";
        return 2;
    }
    std::string got_text;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;)
        got_text.append(buf, n);
    int status = ::pclose(p);
    auto got = lines_of(got_text);
    auto want = lines_of(exp_text.str());
    bool same = got == want;
    if (same && status == 0) return 0;
    std::cout << (same ? "trace matches, but the program failed (status " + std::to_string(status) +
                             ")"
                       : std::string("trace differs"))
              << "\n--- expected\n"
              << exp_text.str() << "--- got\n"
              << got_text;
    for (std::size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
        const std::string g = i < got.size() ? got[i] : "<missing>";
        const std::string w = i < want.size() ? want[i] : "<missing>";
        if (g != w) {
            std::cout << "--- first difference at line " << i + 1 << ":\n  expected: " << w
                      << "\n  got:      " << g << "\n";
            break;
        }
    }
    return 1;
}
