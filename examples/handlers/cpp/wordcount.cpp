// A Chute handler in C++: counts the words and lines of its event.
//
//   c++ -std=c++17 -shared -fPIC -I ../../../runtime-api -o libwordcount.so wordcount.cpp
//
// chute.h is plain C with extern "C" guards, so it is used unchanged. Exceptions must never cross
// the C boundary: every entry point catches them and reports a Handled error instead.
#include "chute.h"

#include <cstring>
#include <exception>
#include <sstream>
#include <string>

CHUTE_MODULE("wordcount", "1.0.0", 0)

namespace {
struct Counter {
    std::string label;  // from the init config, e.g. "words"
};

int32_t fail(const chute_host_api *host, chute_call *call, const char *type, const char *message) {
    host->set_error(call, type, message, nullptr);
    return CHUTE_HANDLED_ERROR;
}
}  // namespace

extern "C" int32_t chute_init(const chute_host_api *host, chute_call *call, const uint8_t *config, size_t config_len,
                              void **state_out) {
    try {
        auto *counter = new Counter{config_len ? std::string(reinterpret_cast<const char *>(config), config_len) : "words"};
        *state_out = counter;
        return CHUTE_OK;
    } catch (const std::exception &error) {
        return fail(host, call, "InitError", error.what());
    }
}

extern "C" int32_t chute_handle(const chute_host_api *host, chute_call *call, void *state, const uint8_t *event,
                                size_t event_len) {
    try {
        if (event_len == 0) return fail(host, call, "EmptyEvent", "the event has no text to count");
        std::string text(reinterpret_cast<const char *>(event), event_len);
        std::istringstream words(text);
        std::string word;
        size_t count = 0;
        while (words >> word) count++;
        size_t lines = 1;
        for (char c : text) lines += c == '\n';
        const auto *counter = static_cast<const Counter *>(state);
        std::string response = "{\"" + counter->label + "\":" + std::to_string(count) + ",\"lines\":" + std::to_string(lines) + "}";
        std::string note = "counted " + std::to_string(count) + " words";
        host->log(call, CHUTE_LOG_INFO, reinterpret_cast<const uint8_t *>(note.data()), note.size());
        return host->write_response(call, reinterpret_cast<const uint8_t *>(response.data()), response.size());
    } catch (const std::exception &error) {
        return fail(host, call, "CppException", error.what());
    }
}

extern "C" void chute_destroy(void *state) { delete static_cast<Counter *>(state); }
