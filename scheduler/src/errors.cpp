// Describing exceptions the way asyncio's scenarios print them.
#include <cstdlib>
#include <memory>
#include <typeinfo>

#include <cxxabi.h>

#include <weft/errors.hpp>

namespace weft {

namespace {
std::string demangle(const char* mangled) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> out(
        abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
    return status == 0 && out ? std::string(out.get()) : std::string(mangled);
}
}  // namespace

std::string exception_type_name(const std::exception_ptr& e) {
    if (!e) return "none";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return demangle(typeid(ex).name());
    } catch (const cancelled_error&) {
        return "weft::cancelled_error";
    } catch (...) {
        const std::type_info* t = abi::__cxa_current_exception_type();
        return t ? demangle(t->name()) : std::string("unknown exception");
    }
}

std::string describe(const std::exception_ptr& e) {
    if (!e) return "none";
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& ex) {
        return demangle(typeid(ex).name()) + ": " + ex.what();
    } catch (const cancelled_error& ex) {
        return "weft::cancelled_error: " + ex.message();
    } catch (...) {
        const std::type_info* t = abi::__cxa_current_exception_type();
        return t ? demangle(t->name()) : std::string("unknown exception");
    }
}

}  // namespace weft
