/*
 * ChuteFaults - a fault-injection handler. The event picks the behaviour, as JSON
 *     {"action": "sleep", "ms": 500}
 * or as plain text "ACTION [NUMBER] [TEXT]", e.g. "sleep 500".
 *
 * actions
 *   echo            respond with the event (also: return)
 *   error           Handled error: errorType "FaultInjected", message = "text" (or a default)
 *   segfault        write through a NULL pointer (SIGSEGV)
 *   abort           abort() (SIGABRT)
 *   bus             touch a mapping past the end of its file (SIGBUS)
 *   fpe             integer division by zero (SIGFPE)
 *   ill             an illegal instruction (SIGILL)
 *   exit            exit("code"), default 3
 *   loop            spin forever, ignoring cancellation
 *   spin            spin until is_cancelled says stop (cooperative; for thread isolation)
 *   sleep           sleep "ms" milliseconds, then respond "slept"
 *   alloc           allocate and touch "mb" megabytes, then free them and respond
 *   recurse         recurse without end (stack overflow, SIGSEGV); with "depth", recurse that deep
 *   big             respond with "bytes" bytes of 'x'
 *   print           write "text" to stdout and to stderr, then respond
 *   log             write "text" through the host's log function, then respond
 *   status          return "code" as the status (Unhandled Runtime.InvalidStatus unless 0 or 1)
 *   context         respond with the call's context as JSON
 *   env             respond with the value of the environment variable "text"
 *   count           respond with how many invocations this instance has served
 *
 * chute_init reads its configuration bytes: "fail" fails init, "sleep:MS" sleeps first,
 * "crash" crashes in init. Anything else is accepted.
 */
#define _GNU_SOURCE
#include "chute_faults.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

CHUTE_MODULE("chute-faults", "1.0.0", 0);

typedef struct {
    uint64_t invocations;
} faults_state;

typedef struct {
    char action[32];
    long long number;
    int has_number;
    char text[512];
} fault_request;

/* Finds "key": in a flat JSON object and returns a pointer just past the colon. */
static const char *json_value(const char *json, size_t len, const char *key) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    const char *at = memmem(json, len, pattern, strlen(pattern));
    if (!at) return NULL;
    const char *p = at + strlen(pattern);
    const char *end = json + len;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ':')) p++;
    return p < end ? p : NULL;
}

static void json_string(const char *p, const char *end, char *out, size_t cap) {
    size_t n = 0;
    if (p && p < end && *p == '"') {
        p++;
        while (p < end && *p != '"' && n + 1 < cap) {
            if (*p == '\\' && p + 1 < end) p++;
            out[n++] = *p++;
        }
    }
    out[n] = 0;
}

static fault_request parse(const uint8_t *event, size_t len) {
    fault_request r;
    memset(&r, 0, sizeof r);
    const char *json = (const char *)event;
    const char *end = json + len;
    if (len > 0 && json[0] == '{') {
        json_string(json_value(json, len, "action"), end, r.action, sizeof r.action);
        json_string(json_value(json, len, "text"), end, r.text, sizeof r.text);
        const char *keys[] = {"ms", "mb", "bytes", "code", "depth"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            const char *v = json_value(json, len, keys[i]);
            if (v) { r.number = strtoll(v, NULL, 10); r.has_number = 1; break; }
        }
    } else {
        char buffer[600];
        size_t n = len < sizeof buffer - 1 ? len : sizeof buffer - 1;
        memcpy(buffer, event, n);
        buffer[n] = 0;
        char *rest = NULL;
        char *word = strtok_r(buffer, " \n", &rest);
        if (word) snprintf(r.action, sizeof r.action, "%s", word);
        /* The rest is "NUMBER [TEXT]" or just "TEXT". */
        while (rest && *rest == ' ') rest++;
        if (rest && *rest) {
            char *endp;
            long long value = strtoll(rest, &endp, 10);
            if (endp != rest && (*endp == 0 || *endp == ' ' || *endp == '\n')) {
                r.number = value;
                r.has_number = 1;
                while (*endp == ' ') endp++;
                rest = endp;
            }
            size_t n = strcspn(rest, "\n");
            snprintf(r.text, sizeof r.text, "%.*s", (int)n, rest);
        }
    }
    return r;
}

static void sleep_ms(long long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {}
}

static int respond(const chute_host_api *host, chute_call *call, const char *text) {
    host->write_response(call, (const uint8_t *)text, strlen(text));
    return CHUTE_OK;
}

static volatile int sink_int;

static int recurse(int depth, int limit) {
    volatile char frame[256];
    frame[0] = (char)depth;
    if (limit > 0 && depth >= limit) return frame[0];
    return recurse(depth + 1, limit) + frame[0];
}

int32_t chute_init(const chute_host_api *host, chute_call *call, const uint8_t *config, size_t config_len,
                   void **state_out) {
    char text[64] = {0};
    size_t n = config_len < sizeof text - 1 ? config_len : sizeof text - 1;
    if (config) memcpy(text, config, n);
    if (strcmp(text, "fail") == 0) {
        host->set_error(call, "InitConfigRejected", "init was told to fail", NULL);
        return CHUTE_HANDLED_ERROR;
    }
    if (strncmp(text, "sleep:", 6) == 0) sleep_ms(atoll(text + 6));
    if (strcmp(text, "crash") == 0) { volatile int *p = NULL; *p = 1; }
    faults_state *state = calloc(1, sizeof *state);
    if (!state) return CHUTE_HANDLED_ERROR;
    *state_out = state;
    return CHUTE_OK;
}

void chute_destroy(void *state) { free(state); }

int32_t chute_handle(const chute_host_api *host, chute_call *call, void *opaque, const uint8_t *event,
                     size_t event_len) {
    faults_state *state = opaque;
    if (state) state->invocations++;
    fault_request r = parse(event, event_len);
    const char *a = r.action;

    if (a[0] == 0 || strcmp(a, "echo") == 0 || strcmp(a, "return") == 0) {
        host->write_response(call, event, event_len);
        return CHUTE_OK;
    }
    if (strcmp(a, "error") == 0) {
        host->set_error(call, "FaultInjected", r.text[0] ? r.text : "the event asked for an error",
                        "faults.c:chute_handle\nfaults.c:error");
        return CHUTE_HANDLED_ERROR;
    }
    if (strcmp(a, "segfault") == 0) { volatile int *p = NULL; *p = 42; }
    if (strcmp(a, "abort") == 0) abort();
    if (strcmp(a, "bus") == 0) {
        FILE *f = tmpfile();
        char *map = f ? mmap(NULL, 4096, PROT_READ, MAP_SHARED, fileno(f), 0) : NULL;
        if (map && map != MAP_FAILED) sink_int = map[0]; /* the file is empty: SIGBUS */
        raise(SIGBUS);
    }
    if (strcmp(a, "fpe") == 0) { volatile int zero = 0; sink_int = 1 / zero; raise(SIGFPE); }
    if (strcmp(a, "ill") == 0) __builtin_trap();
    if (strcmp(a, "exit") == 0) exit(r.has_number ? (int)r.number : 3);
    if (strcmp(a, "loop") == 0) for (;;) sink_int++;
    if (strcmp(a, "spin") == 0) {
        while (!host->is_cancelled(call)) sink_int++;
        return respond(host, call, "cancelled");
    }
    if (strcmp(a, "sleep") == 0) {
        sleep_ms(r.has_number ? r.number : 1000);
        return respond(host, call, "slept");
    }
    if (strcmp(a, "alloc") == 0) {
        size_t mb = r.has_number ? (size_t)r.number : 64;
        char **chunks = calloc(mb, sizeof *chunks);
        if (!chunks) abort();
        for (size_t i = 0; i < mb; i++) {
            chunks[i] = malloc(1 << 20);
            if (!chunks[i]) abort(); /* as Rust and C++ runtimes do when allocation fails */
            memset(chunks[i], (int)i, 1 << 20);
        }
        for (size_t i = 0; i < mb; i++) free(chunks[i]);
        free(chunks);
        return respond(host, call, "allocated");
    }
    if (strcmp(a, "recurse") == 0) {
        sink_int = recurse(0, r.has_number ? (int)r.number : 0);
        return respond(host, call, "returned");
    }
    if (strcmp(a, "big") == 0) {
        size_t bytes = r.has_number ? (size_t)r.number : 1024;
        char chunk[4096];
        memset(chunk, 'x', sizeof chunk);
        while (bytes > 0) {
            size_t n = bytes < sizeof chunk ? bytes : sizeof chunk;
            if (host->write_response(call, (const uint8_t *)chunk, n) != CHUTE_OK) break;
            bytes -= n;
        }
        return CHUTE_OK;
    }
    if (strcmp(a, "print") == 0) {
        const char *text = r.text[0] ? r.text : "hello from the handler";
        printf("stdout: %s\n", text);
        fprintf(stderr, "stderr: %s\n", text);
        return respond(host, call, "printed");
    }
    if (strcmp(a, "log") == 0) {
        const char *text = r.text[0] ? r.text : "hello from the handler";
        host->log(call, CHUTE_LOG_INFO, (const uint8_t *)text, strlen(text));
        return respond(host, call, "logged");
    }
    if (strcmp(a, "status") == 0) return (int32_t)(r.has_number ? r.number : 7);
    if (strcmp(a, "context") == 0) {
        const chute_context *c = host->context(call);
        char out[1024];
        snprintf(out, sizeof out,
                 "{\"requestId\":\"%s\",\"functionName\":\"%s\",\"functionArn\":\"%s\",\"version\":\"%s\","
                 "\"attempt\":%u,\"memoryLimitMB\":%u,\"remainingMs\":%lld,\"deadlineMs\":%lld}",
                 c->request_id, c->function_name, c->function_arn, c->function_version, c->attempt,
                 c->memory_limit_mb, (long long)host->remaining_time_ms(call), (long long)c->deadline_ms);
        return respond(host, call, out);
    }
    if (strcmp(a, "env") == 0) {
        const char *value = getenv(r.text);
        return respond(host, call, value ? value : "");
    }
    if (strcmp(a, "count") == 0) {
        char out[32];
        snprintf(out, sizeof out, "%llu", state ? (unsigned long long)state->invocations : 0ULL);
        return respond(host, call, out);
    }
    char message[128];
    snprintf(message, sizeof message, "unknown action '%s'", a);
    host->set_error(call, "UnknownAction", message, NULL);
    return CHUTE_HANDLED_ERROR;
}
