// The thread count: its parser and limit (shared by --threads, WEFT_THREADS
// and run_options::threads), the configuration_error a bad one raises, and
// the default from the machine (the affinity mask and the cgroup v2 quota,
// read from a fake cgroup tree here).
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <sched.h>
#include <stdlib.h>

#include <weft/weft.hpp>

// weft/weft.hpp leaves the command line (and so CLI11) to weft/cli.hpp.
#ifdef CLI11_VERSION
#error "weft/weft.hpp must not bring in CLI11"
#endif

namespace {

namespace fs = std::filesystem;

const std::string range = "must be a whole number of worker threads from 1 to 4096, got ";

// The message a bad value gets, or "" if it was accepted.
std::string parse_error(const std::string& text, const std::string& source = "--threads") {
    try {
        (void)weft::parse_thread_count(text, source);
    } catch (const weft::configuration_error& e) {
        EXPECT_EQ(e.source(), source);
        return e.what();
    }
    return {};
}

TEST(ThreadCount, ParsesWholeNumbersUpToTheLimit) {
    EXPECT_EQ(weft::max_threads, 4096);
    EXPECT_EQ(weft::parse_thread_count("1", "--threads"), 1);
    EXPECT_EQ(weft::parse_thread_count("16", "--threads"), 16);
    EXPECT_EQ(weft::parse_thread_count("4096", "WEFT_THREADS"), 4096);
    EXPECT_EQ(weft::check_thread_count(7, "run_options::threads"), 7);
}

TEST(ThreadCount, BadValuesAreNamedWithTheirSourceAsTyped) {
    EXPECT_EQ(parse_error("0"), "--threads: " + range + "'0'");
    EXPECT_EQ(parse_error("4097", "WEFT_THREADS"), "WEFT_THREADS: " + range + "'4097'");
    // An overflow is named as typed, not as whatever it would have wrapped to.
    EXPECT_EQ(parse_error("99999999999999999999"),
              "--threads: " + range + "'99999999999999999999'");
    for (const char* bad : {"", "-1", "abc", "2x", " 2", "2 ", "+2", "0x10", "1e3", "2.0"}) {
        EXPECT_EQ(parse_error(bad), "--threads: " + range + "'" + bad + "'") << "'" << bad << "'";
    }
    try {
        weft::check_thread_count(-3, "run_options::threads");
        ADD_FAILURE() << "accepted -3";
    } catch (const weft::configuration_error& e) {
        EXPECT_STREQ(e.what(), ("run_options::threads: " + range + "-3").c_str());
        EXPECT_EQ(e.problem(), range + "-3");
    }
    // Still a std::invalid_argument, for code that catches those.
    EXPECT_THROW(weft::check_thread_count(5000, "x"), std::invalid_argument);
}

class WeftThreadsEnv : public ::testing::Test {
protected:
    void TearDown() override { ::unsetenv("WEFT_THREADS"); }
};

TEST_F(WeftThreadsEnv, ResolveNamesTheSource) {
    try {
        weft::resolve_threads({.threads = 5000});
        ADD_FAILURE() << "accepted 5000";
    } catch (const weft::configuration_error& e) {
        EXPECT_EQ(e.source(), "run_options::threads");
        EXPECT_NE(std::string(e.what()).find("5000"), std::string::npos);
    }
    ::setenv("WEFT_THREADS", "lots", 1);
    try {
        weft::resolve_threads({});
        ADD_FAILURE() << "accepted WEFT_THREADS=lots";
    } catch (const weft::configuration_error& e) {
        EXPECT_STREQ(e.what(), ("WEFT_THREADS: " + range + "'lots'").c_str());
    }
    EXPECT_EQ(weft::resolve_threads({.threads = 2}), 2);  // an explicit count wins
}

TEST_F(WeftThreadsEnv, EmptyIsUnset) {
    ::setenv("WEFT_THREADS", "", 1);
    EXPECT_EQ(weft::resolve_threads({}), 1);
    weft::runner r;
    EXPECT_EQ(r.threads(), 1);
    r.close();
}

// A program that catches the error gets it, before anything started, and
// the program's own terminate handler is back in place afterwards.
TEST_F(WeftThreadsEnv, BadValueIsCatchableFromRunAndLeavesTerminateAlone) {
    std::terminate_handler before = std::get_terminate();
    ::setenv("WEFT_THREADS", "0", 1);
    bool started = false;
    try {
        weft::run([](bool* s) -> weft::task<void> {
            *s = true;
            co_return;
        }(&started));
        ADD_FAILURE() << "accepted WEFT_THREADS=0";
    } catch (const weft::configuration_error& e) {
        EXPECT_EQ(e.source(), "WEFT_THREADS");
    }
    EXPECT_FALSE(started);
    EXPECT_EQ(std::get_terminate(), before);
    EXPECT_THROW(weft::runner({.threads = 2, .blocking_threshold = std::chrono::nanoseconds(-1)}),
                 weft::configuration_error);
    EXPECT_EQ(std::get_terminate(), before);
}

// ---- the default from the machine

int affinity_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    EXPECT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
    return CPU_COUNT(&set);
}

// A fake root: /proc/self/cgroup, /proc/self/mountinfo and a cgroup2 mount,
// in a fresh temporary directory.
class FakeCgroup : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "weft-cgroup-XXXXXX").string();
        ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
        root_ = pattern;
    }
    void TearDown() override { fs::remove_all(root_); }

    void write(const std::string& path, const std::string& text) {
        fs::path p = root_ / path;
        fs::create_directories(p.parent_path());
        std::ofstream(p) << text;
    }
    // The process in cgroup `cgroup`, under a cgroup2 mount of `hierarchy`
    // at `mount_point`, beside mounts that are not cgroup2.
    void layout(const std::string& cgroup, const std::string& mount_point = "/sys/fs/cgroup",
                const std::string& hierarchy = "/") {
        write("proc/self/cgroup", "0::" + cgroup + "\n");
        write("proc/self/mountinfo",
              "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
              "25 22 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n"
              "30 22 0:26 " +
                  hierarchy + " " + mount_point +
                  " rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
                  "rw,nsdelegate,memory_recursiveprot\n"
                  "31 22 0:27 / /sys/fs/bpf rw,nosuid shared:5 - bpf bpf rw,mode=700\n");
    }
    std::optional<int> limit() { return weft::cgroup_cpu_limit(root_); }

    fs::path root_;
};

TEST_F(FakeCgroup, QuotaIsRoundedUp) {
    layout("/app.slice/app.scope");
    write("sys/fs/cgroup/app.slice/app.scope/cpu.max", "150000 100000\n");
    EXPECT_EQ(limit(), 2);
    EXPECT_EQ(weft::available_parallelism(root_), std::min(2, affinity_cpus()));
    write("sys/fs/cgroup/app.slice/app.scope/cpu.max", "100000 100000\n");
    EXPECT_EQ(limit(), 1);
    EXPECT_EQ(weft::available_parallelism(root_), 1);
    write("sys/fs/cgroup/app.slice/app.scope/cpu.max", "50000 100000\n");  // half a CPU
    EXPECT_EQ(limit(), 1);
    write("sys/fs/cgroup/app.slice/app.scope/cpu.max", "400000 100000\n");
    EXPECT_EQ(limit(), 4);
}

TEST_F(FakeCgroup, MaxIsNoLimit) {
    layout("/app.slice/app.scope");
    write("sys/fs/cgroup/app.slice/app.scope/cpu.max", "max 100000\n");
    write("sys/fs/cgroup/app.slice/cpu.max", "max 100000\n");
    EXPECT_EQ(limit(), std::nullopt);
    EXPECT_EQ(weft::available_parallelism(root_), affinity_cpus());
}

TEST_F(FakeCgroup, NestedCgroupsTakeTheSmallest) {
    layout("/a/b/c");
    write("sys/fs/cgroup/a/cpu.max", "300000 100000\n");
    write("sys/fs/cgroup/a/b/cpu.max", "max 100000\n");
    write("sys/fs/cgroup/a/b/c/cpu.max", "500000 100000\n");
    EXPECT_EQ(limit(), 3);  // the grandparent's 3 binds the child's 5
    write("sys/fs/cgroup/a/b/cpu.max", "120000 100000\n");
    EXPECT_EQ(limit(), 2);
    write("sys/fs/cgroup/a/b/c/cpu.max", "100000 100000\n");
    EXPECT_EQ(limit(), 1);
    // The mount point is a cgroup too (a container's, under a namespace).
    write("sys/fs/cgroup/a/b/c/cpu.max", "max 100000\n");
    write("sys/fs/cgroup/cpu.max", "100000 100000\n");
    EXPECT_EQ(limit(), 1);
}

TEST_F(FakeCgroup, MissingOrGarbageFilesAreIgnored) {
    layout("/a/b");
    EXPECT_EQ(limit(), std::nullopt);  // no cpu.max anywhere
    EXPECT_EQ(weft::available_parallelism(root_), affinity_cpus());
    write("sys/fs/cgroup/a/cpu.max", "200000 100000\n");
    for (const char* garbage :
         {"", "\n", "lots 100000\n", "150000\n", "0 100000\n", "100000 0\n", "-5 100000\n",
          "1.5 1\n", "150000 100000 7\n", "99999999999999999999999 100000\n"}) {
        write("sys/fs/cgroup/a/b/cpu.max", garbage);
        EXPECT_EQ(limit(), 2) << "'" << garbage << "'";  // the parent's limit still holds
    }
}

TEST_F(FakeCgroup, NoCgroup2IsNoLimit) {
    EXPECT_EQ(limit(), std::nullopt);  // nothing under the root at all
    EXPECT_EQ(weft::available_parallelism(root_), affinity_cpus());
    // Only cgroup v1: its lines name controllers, and no cgroup2 is mounted.
    write("proc/self/cgroup", "4:cpu,cpuacct:/user\n1:name=systemd:/user\n");
    write("proc/self/mountinfo",
          "30 22 0:26 / /sys/fs/cgroup/cpu rw shared:4 - cgroup cgroup rw,cpu,cpuacct\n");
    write("sys/fs/cgroup/cpu/user/cpu.max", "100000 100000\n");
    EXPECT_EQ(limit(), std::nullopt);
    // A cgroup2 line in /proc/self/cgroup but no cgroup2 mount.
    write("proc/self/cgroup", "0::/user\n");
    EXPECT_EQ(limit(), std::nullopt);
    // A path outside this cgroup namespace.
    layout("/../../elsewhere");
    write("sys/fs/cgroup/cpu.max", "100000 100000\n");
    EXPECT_EQ(limit(), std::nullopt);
}

TEST_F(FakeCgroup, MountedSubtreeAndEscapedMountPoint) {
    // Without a cgroup namespace a container sees its own cgroup, /docker/x,
    // mounted at the mount point; its path below that is what it reads.
    layout("/docker/x/job", "/sys/fs/my\\040cgroup", "/docker/x");
    write("sys/fs/my cgroup/job/cpu.max", "250000 100000\n");
    EXPECT_EQ(limit(), 3);
    write("sys/fs/my cgroup/cpu.max", "150000 100000\n");
    EXPECT_EQ(limit(), 2);
}

TEST(AvailableParallelism, IsTheAffinityMaskAtMost) {
    int n = weft::available_parallelism();
    EXPECT_GE(n, 1);
    EXPECT_LE(n, affinity_cpus());
}

}  // namespace
