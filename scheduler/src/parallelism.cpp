// The thread count's parser and limit, and the default from the machine:
// the affinity mask capped by the cgroup v2 CPU quota.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <sched.h>

#include <weft/parallelism.hpp>

namespace weft {

namespace {

std::string range_text() {
    return "must be a whole number of worker threads from 1 to " + std::to_string(max_threads);
}

// The whole file, or nothing when it cannot be read.
std::optional<std::string> read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) return std::nullopt;
    return text;
}

// `path` (absolute, as the kernel writes it) under `root`.
std::filesystem::path under(const std::filesystem::path& root, std::string_view path) {
    while (!path.empty() && path.front() == '/')
        path.remove_prefix(1);
    return root / std::filesystem::path(path);
}

std::vector<std::string_view> split(std::string_view text, char sep) {
    std::vector<std::string_view> out;
    for (;;) {
        std::size_t at = text.find(sep);
        out.push_back(text.substr(0, at));
        if (at == std::string_view::npos) return out;
        text.remove_prefix(at + 1);
    }
}

// mountinfo writes a space, tab, newline or backslash in a path as \ and
// three octal digits.
std::string unescape_mount_path(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            auto octal = [](char c) { return c >= '0' && c <= '7'; };
            if (octal(s[i + 1]) && octal(s[i + 2]) && octal(s[i + 3])) {
                out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 +
                                         (s[i + 3] - '0'));
                i += 3;
                continue;
            }
        }
        out += s[i];
    }
    return out;
}

// The process's cgroup v2 path, from the "0::<path>" line of
// /proc/self/cgroup.
std::optional<std::string> own_cgroup(const std::filesystem::path& root) {
    std::optional<std::string> text = read_file(under(root, "/proc/self/cgroup"));
    if (!text) return std::nullopt;
    for (std::string_view line : split(*text, '\n')) {
        if (line.substr(0, 3) == "0::" && line.size() > 3 && line[3] == '/') {
            return std::string(line.substr(3));
        }
    }
    return std::nullopt;
}

// True if `path` is `prefix` or lies below it, component by component.
bool within(std::string_view path, std::string_view prefix) {
    if (prefix == "/") return true;
    if (path.substr(0, prefix.size()) != prefix) return false;
    return path.size() == prefix.size() || path[prefix.size()] == '/';
}

struct cgroup2_mount {
    std::string hierarchy_root;  // the cgroup mounted there ("/" unless bind-mounted)
    std::string mount_point;
};

// The cgroup2 mount whose hierarchy holds `cgroup`, from mountinfo's lines:
//   36 25 0:30 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw
// (ID, parent ID, device, root, mount point, options, optional fields up to
// "-", then the file system type).
std::optional<cgroup2_mount> find_cgroup2_mount(const std::filesystem::path& root,
                                                std::string_view cgroup) {
    std::optional<std::string> text = read_file(under(root, "/proc/self/mountinfo"));
    if (!text) return std::nullopt;
    for (std::string_view line : split(*text, '\n')) {
        std::vector<std::string_view> fields = split(line, ' ');
        auto dash = std::find(fields.begin(), fields.end(), std::string_view("-"));
        if (fields.size() < 5 || dash == fields.end() || dash - fields.begin() < 6 ||
            std::next(dash) == fields.end() || *std::next(dash) != "cgroup2") {
            continue;
        }
        cgroup2_mount m{unescape_mount_path(fields[3]), unescape_mount_path(fields[4])};
        if (within(cgroup, m.hierarchy_root)) return m;
    }
    return std::nullopt;
}

// The whole CPUs one cpu.max grants: quota / period rounded up; empty for
// "max" (no limit) or anything that does not read as "<quota> <period>".
std::optional<int> read_cpu_max(const std::filesystem::path& file) {
    std::optional<std::string> text = read_file(file);
    if (!text) return std::nullopt;
    std::string_view s = *text;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.remove_suffix(1);
    std::vector<std::string_view> fields = split(s, ' ');
    if (fields.size() != 2 || fields[0] == "max") return std::nullopt;
    auto whole = [](std::string_view f) -> std::optional<std::uint64_t> {
        std::uint64_t v = 0;
        auto [end, err] = std::from_chars(f.data(), f.data() + f.size(), v);
        if (err != std::errc() || end != f.data() + f.size() || v == 0) return std::nullopt;
        return v;
    };
    std::optional<std::uint64_t> quota = whole(fields[0]);
    std::optional<std::uint64_t> period = whole(fields[1]);
    if (!quota || !period) return std::nullopt;
    std::uint64_t cpus = *quota / *period + (*quota % *period != 0 ? 1 : 0);
    return static_cast<int>(std::min<std::uint64_t>(cpus, 1u << 30));
}

// The CPUs in the calling thread's affinity mask; the mask is grown until it
// holds every CPU the kernel knows of.
int affinity_count() {
    for (int cpus = 1024; cpus <= (1 << 20); cpus *= 2) {
        cpu_set_t* set = CPU_ALLOC(cpus);
        if (set == nullptr) break;
        std::size_t size = CPU_ALLOC_SIZE(cpus);
        CPU_ZERO_S(size, set);
        int rc = ::sched_getaffinity(0, size, set);
        int err = errno;
        int n = rc == 0 ? CPU_COUNT_S(size, set) : 0;
        CPU_FREE(set);
        if (rc == 0 && n > 0) return n;
        if (rc != 0 && err == EINVAL) continue;  // a mask too small for the kernel's CPUs
        break;
    }
    unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(std::min(n, 1u << 30));
}

}  // namespace

int check_thread_count(long long n, std::string_view source) {
    if (n < 1 || n > max_threads) {
        throw configuration_error(std::string(source), range_text() + ", got " + std::to_string(n));
    }
    return static_cast<int>(n);
}

int parse_thread_count(std::string_view text, std::string_view source) {
    int n = 0;
    const char* first = text.data();
    const char* last = first + text.size();
    auto [end, err] = std::from_chars(first, last, n);
    if (text.empty() || err != std::errc() || end != last || n < 1 || n > max_threads) {
        throw configuration_error(std::string(source),
                                  range_text() + ", got '" + std::string(text) + "'");
    }
    return n;
}

std::optional<int> cgroup_cpu_limit(const std::filesystem::path& root) {
    std::optional<std::string> cgroup = own_cgroup(root);
    // A path with ".." lies outside this cgroup namespace: nothing to read.
    if (!cgroup || cgroup->find("/..") != std::string::npos) return std::nullopt;
    std::optional<cgroup2_mount> mount = find_cgroup2_mount(root, *cgroup);
    if (!mount) return std::nullopt;

    // The directories from the process's cgroup up to the mount point, which
    // is a cgroup too (a container's own, under a cgroup namespace).
    std::string_view below(*cgroup);
    below.remove_prefix(mount->hierarchy_root == "/" ? 0 : mount->hierarchy_root.size());
    std::filesystem::path top = under(root, mount->mount_point);
    std::filesystem::path dir = top;
    std::vector<std::filesystem::path> levels{top};
    for (std::string_view part : split(below, '/')) {
        if (part.empty()) continue;
        dir /= std::filesystem::path(part);
        levels.push_back(dir);
    }

    // Every ancestor's quota binds too: the effective limit is the smallest.
    std::optional<int> limit;
    for (const std::filesystem::path& level : levels) {
        std::optional<int> cpus = read_cpu_max(level / "cpu.max");
        if (cpus && (!limit || *cpus < *limit)) limit = cpus;
    }
    return limit;
}

int available_parallelism(const std::filesystem::path& root) {
    int n = affinity_count();
    if (std::optional<int> limit = cgroup_cpu_limit(root)) n = std::min(n, *limit);
    return std::max(n, 1);
}

int available_parallelism() {
    return available_parallelism("/");
}

}  // namespace weft
