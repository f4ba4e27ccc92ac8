// extract_snippets PAGE.md OUT.cpp: turns every ```cpp block of a docs page
// into one C++ source, so that the build proves the page's code compiles and
// the test runs it. Used by tests/CMakeLists.txt (docs.<page>.snippets).
//
// The rules, for whoever writes the page:
// - each ```cpp block goes into a namespace of its own, which sees the names
//   of the blocks above it (as a reader does), so a name must not be defined
//   by two blocks and then used by a later one;
// - `#include` lines are moved to the top of the file;
// - a block that defines `weft::task<void> example()` is run with weft::run,
//   one that defines `void sync_example()` (code that must run outside any
//   loop) is called, in page order; other blocks are only compiled;
// - ```text, ```sh and other fences are left alone.
// #line directives point compiler errors at the page itself.
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct block {
    int first_line;  // of the code, 1-based, in the page
    std::vector<std::string> lines;
    enum { compile_only, task_example, sync_example } kind = compile_only;
};

std::string trim(const std::string& s) {
    std::size_t b = s.find_first_not_of(" \t");
    std::size_t e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: extract_snippets PAGE.md OUT.cpp\n";
        return 2;
    }
    const std::string page = argv[1];
    std::ifstream in(page);
    if (!in) {
        std::cerr << "extract_snippets: cannot read " << page << "\n";
        return 2;
    }

    std::vector<block> blocks;
    std::set<std::string> includes;
    bool inside = false;
    int line_no = 0;
    for (std::string line; std::getline(in, line);) {
        ++line_no;
        const std::string t = trim(line);
        if (!inside) {
            if (t == "```cpp") {
                inside = true;
                blocks.push_back(block{line_no + 1, {}});
            }
            continue;
        }
        if (t == "```") {
            inside = false;
            continue;
        }
        block& b = blocks.back();
        if (t.rfind("#include", 0) == 0) {
            includes.insert(t);
            b.lines.emplace_back();  // keeps the #line numbering right
            continue;
        }
        if (line.find("weft::task<void> example()") != std::string::npos)
            b.kind = block::task_example;
        if (line.find("void sync_example()") != std::string::npos) b.kind = block::sync_example;
        b.lines.push_back(line);
    }
    if (inside) {
        std::cerr << page << ": a ```cpp block is not closed\n";
        return 1;
    }
    if (blocks.empty()) {
        std::cerr << page << ": no ```cpp blocks\n";
        return 1;
    }

    std::ostringstream out;
    out << "// Generated from " << page << " by extract_snippets: do not edit.\n";
    for (const std::string& inc : includes)
        out << inc << "\n";
    out << "#include <cstdio>\n#include <weft/weft.hpp>\n";
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        out << "namespace doc_block_" << i + 1 << " {\n";
        if (i > 0) out << "using namespace doc_block_" << i << ";\n";  // and, so, all above
        out << "#line " << blocks[i].first_line << " \"" << page << "\"\n";
        for (const std::string& l : blocks[i].lines)
            out << l << "\n";
        out << "}  // namespace doc_block_" << i + 1 << "\n";
    }
    out << "int main() {\n";
    int runnable = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        if (blocks[i].kind == block::compile_only) continue;
        ++runnable;
        const bool sync = blocks[i].kind == block::sync_example;
        out << "    std::printf(\"--- " << (sync ? "sync_example" : "example") << "() at " << page
            << ":" << blocks[i].first_line << "\\n\");\n"
            << "    std::fflush(stdout);\n";
        if (sync) {
            out << "    doc_block_" << i + 1 << "::sync_example();\n";
        } else {
            out << "    weft::run(doc_block_" << i + 1 << "::example());\n";
        }
    }
    out << "    std::printf(\"--- " << blocks.size() << " blocks compiled, " << runnable
        << " run\\n\");\n}\n";

    // Written only when changed, so that an unchanged page rebuilds nothing.
    const std::string text = out.str();
    {
        std::ifstream old(argv[2]);
        std::stringstream old_text;
        old_text << old.rdbuf();
        if (old && old_text.str() == text) return 0;
    }
    std::ofstream(argv[2]) << text;
    return 0;
}
