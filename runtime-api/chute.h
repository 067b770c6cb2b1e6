/*
 * chute.h - the Chute handler ABI, version 1.0.
 *
 * A handler is a shared library (C, C++, Rust, Swift, anything with a C ABI) that the Chute host
 * loads with dlopen and calls through this contract. Plain C11, only <stdint.h> and <stddef.h>;
 * usable unchanged from C, C++ (the declarations are extern "C"), Rust (#[repr(C)] mirrors) and
 * Swift (as a Clang module).
 *
 * NAMES
 *   chute_*            types and functions the handler EXPORTS (chute_module, chute_init, ...),
 *                      and the types both sides share.
 *   chute_host_api     the only way a handler calls back into the host: a table of function
 *                      pointers passed to every hook. Never link against host symbols.
 *   CHUTE_*            constants and macros.
 *
 * OWNERSHIP (each pointer below says which of these applies)
 *   BORROWED    valid only until the hook it was passed to returns; copy what you keep.
 *   HOST-OWNED  owned by the host; never free it.
 *   MODULE-OWNED  owned by the handler module; the host never frees it and may keep the pointer
 *               for as long as the library stays loaded (use static storage).
 *   Nothing is ever freed across the boundary: whatever a handler hands to the host (response
 *   bytes, error strings, log lines) is copied by the host before the host function returns.
 *
 * LIFECYCLE OF ONE INSTANCE
 *   1. chute_module()                     required; checked before anything else runs.
 *   2. chute_init(host, call, config, &state)   optional; once per instance, before any invocation.
 *   3. ENTRY(host, call, state, event)    zero or more times; ENTRY is the symbol the function's
 *                                         configuration names (default "chute_handle").
 *   4. chute_destroy(state)               optional; once after the last invocation of an instance
 *                                         that ends normally. NEVER called for an instance that
 *                                         was abandoned after a timeout or whose process died.
 *   Unless the module sets CHUTE_FLAG_THREAD_SAFE, the host never runs two hooks of one instance
 *   at the same time. With the flag, one instance may serve concurrent invocations.
 *
 * OUTCOMES
 *   ENTRY returns CHUTE_OK           -> Success; the response is the concatenation of every
 *                                       write_response made during the call (possibly empty).
 *   ENTRY returns CHUTE_HANDLED_ERROR -> Handled error, described by set_error. Without a
 *                                       set_error call the host reports errorType
 *                                       "Runtime.MissingErrorDetails".
 *   Any other return value           -> Unhandled "Runtime.InvalidStatus".
 *   A crash, signal, exit, timeout, an over-limit response or a failed init is an Unhandled error
 *   the host detects itself. A set_error followed by CHUTE_OK is a success (the error is dropped
 *   and logged as a warning).
 *
 * ISOLATION
 *   In process isolation (the default) every instance lives in its own worker process: a crash
 *   ends only that process, stdout/stderr are captured line by line, the memory limit is enforced
 *   and a timeout kills the process. In thread isolation the handler runs on a host thread: a crash
 *   ends the whole host, and a timeout can only raise the cancellation flag (is_cancelled) and
 *   abandon the thread, so handlers meant for thread isolation should poll is_cancelled in long
 *   loops.
 *
 * VERSIONING
 *   The host refuses a module whose abi_major differs from its own or whose abi_minor is newer
 *   than its own. Minor versions only ever append: new fields at the END of the structs below
 *   (each starts with struct_size, so either side can tell what the other knows) and new
 *   functions at the end of chute_host_api. Existing fields never move or change meaning.
 */
#ifndef CHUTE_H
#define CHUTE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CHUTE_ABI_MAJOR 1
#define CHUTE_ABI_MINOR 0

/* Return values of ENTRY and chute_init. Fixed-width integers, not an enum, so every language
 * agrees on the size. */
#define CHUTE_OK 0            /* success */
#define CHUTE_HANDLED_ERROR 1 /* the handler reports an error it set through set_error */

/* Return values of the host functions that return int32_t. */
#define CHUTE_E_INVALID_ARGUMENT (-1) /* a NULL pointer where one is required, or a bad call */
#define CHUTE_E_TOO_LARGE (-2)        /* the response would pass the host's response size limit;
                                         the invocation will end as an Unhandled
                                         "Function.ResponseSizeTooLarge" */
#define CHUTE_E_WRONG_PHASE (-3)      /* e.g. write_response during chute_init */

/* Log levels for chute_host_api.log. */
#define CHUTE_LOG_TRACE 0
#define CHUTE_LOG_DEBUG 1
#define CHUTE_LOG_INFO 2
#define CHUTE_LOG_WARN 3
#define CHUTE_LOG_ERROR 4

/* chute_module_info.flags */
#define CHUTE_FLAG_THREAD_SAFE 0x1u /* one instance may serve concurrent invocations */

/* Opaque, HOST-OWNED handle for one hook call (an init or an invocation). Valid only during the
 * hook it was passed to; do not keep it, do not use it from another call. */
typedef struct chute_call chute_call;

/* What a module says about itself. MODULE-OWNED (static storage). */
typedef struct chute_module_info {
    uint32_t struct_size;  /* sizeof(chute_module_info) as the module was compiled */
    uint16_t abi_major;    /* CHUTE_ABI_MAJOR the module was compiled against */
    uint16_t abi_minor;    /* CHUTE_ABI_MINOR the module was compiled against */
    uint32_t flags;        /* CHUTE_FLAG_* */
    const char *name;      /* NUL-terminated, MODULE-OWNED; may be NULL */
    const char *version;   /* NUL-terminated, MODULE-OWNED; may be NULL */
} chute_module_info;

/* What the host says about the current call. HOST-OWNED, valid during the call; every string is
 * NUL-terminated and HOST-OWNED. Read struct_size before reading a field added by a later minor. */
typedef struct chute_context {
    uint32_t struct_size;        /* sizeof(chute_context) as the host was compiled */
    uint32_t attempt;            /* 1 for the first attempt of an event, 2 for its first retry...;
                                    0 during chute_init */
    const char *request_id;      /* the invocation's request id; "" during chute_init */
    const char *function_name;   /* the function's name */
    const char *function_arn;    /* arn:aws:lambda:<region>:<account>:function:<name> */
    const char *function_version;/* "$LATEST" or a version number */
    int64_t deadline_ms;         /* wall-clock deadline, milliseconds since the Unix epoch */
    uint32_t memory_limit_mb;    /* the function's memory limit */
    uint32_t reserved;           /* zero */
} chute_context;

/* The host's functions, passed to every hook. HOST-OWNED, valid for as long as the library is
 * loaded. Append-only: a handler compiled against a later minor must check struct_size before
 * calling a function that minor added. Every function is safe to call from the thread running
 * the hook; none may be called after the hook returned. */
typedef struct chute_host_api {
    uint32_t struct_size; /* sizeof(chute_host_api) as the host was compiled */

    /* Appends len bytes to the response. data is BORROWED (the host copies it before returning);
     * data may be NULL when len is 0. Returns CHUTE_OK, CHUTE_E_TOO_LARGE or
     * CHUTE_E_WRONG_PHASE (during chute_init). */
    int32_t (*write_response)(chute_call *call, const uint8_t *data, size_t len);

    /* Describes the error of this call: error_type (e.g. "ValidationError") and message are
     * required, stack_trace may be NULL (lines separated by '\n'). All three are BORROWED,
     * NUL-terminated, and copied by the host. A later call replaces an earlier one. Returns
     * CHUTE_OK or CHUTE_E_INVALID_ARGUMENT. */
    int32_t (*set_error)(chute_call *call, const char *error_type, const char *message,
                         const char *stack_trace);

    /* Writes one log line tagged with the call's request id. line is BORROWED (copied), need not
     * be NUL-terminated, and should not end with a newline. level is a CHUTE_LOG_* value. */
    void (*log)(chute_call *call, int32_t level, const uint8_t *line, size_t len);

    /* Milliseconds left before the call's deadline (0 once it has passed). */
    int64_t (*remaining_time_ms)(const chute_call *call);

    /* 1 once the host wants the call to stop (its deadline passed or the host is shutting down),
     * else 0. Long-running handlers should poll it and return. */
    int32_t (*is_cancelled)(const chute_call *call);

    /* The call's context. HOST-OWNED, valid during the call. */
    const chute_context *(*context)(const chute_call *call);
} chute_host_api;

/* REQUIRED. Returns MODULE-OWNED static data describing the module. It is a function, not a data
 * symbol, because dlsym is only guaranteed to work on functions. Define it with CHUTE_MODULE. */
const chute_module_info *chute_module(void);

/* OPTIONAL. Runs once per instance before any invocation. config/config_len are the function's
 * init configuration bytes, BORROWED (config may be NULL when config_len is 0). Store whatever the
 * instance needs in *state_out (it starts as NULL); it is passed back to ENTRY and chute_destroy.
 * Return CHUTE_OK, or anything else after describing the failure with host->set_error: the
 * instance is then discarded (chute_destroy is not called) and the invocation waiting for it ends
 * as an Unhandled "Runtime.InitError" carrying the message. */
int32_t chute_init(const chute_host_api *host, chute_call *call, const uint8_t *config,
                   size_t config_len, void **state_out);

/* The invocation entry point: any symbol name with this signature (default "chute_handle").
 * state is what chute_init stored (NULL without chute_init). event/event_len are the event bytes,
 * BORROWED for the call (event may be NULL when event_len is 0). Produce the response with
 * host->write_response and return CHUTE_OK, or describe an error with host->set_error and return
 * CHUTE_HANDLED_ERROR. */
typedef int32_t (*chute_handler_fn)(const chute_host_api *host, chute_call *call, void *state,
                                    const uint8_t *event, size_t event_len);
int32_t chute_handle(const chute_host_api *host, chute_call *call, void *state,
                     const uint8_t *event, size_t event_len);

/* OPTIONAL. Runs once after the last invocation of an instance that ends normally (never after a
 * timeout abandoned it). Frees what chute_init allocated. */
void chute_destroy(void *state);

/* Defines chute_module() in one line:
 *     CHUTE_MODULE("thumbnailer", "1.2.0", 0);
 * flags is 0 or CHUTE_FLAG_THREAD_SAFE. */
#if defined(_WIN32)
#define CHUTE_EXPORT __declspec(dllexport)
#else
#define CHUTE_EXPORT __attribute__((visibility("default")))
#endif

#define CHUTE_MODULE(module_name, module_version, module_flags)                                  \
    CHUTE_EXPORT const chute_module_info *chute_module(void) {                                   \
        static const chute_module_info chute_module_info_value = {                               \
            (uint32_t)sizeof(chute_module_info), CHUTE_ABI_MAJOR, CHUTE_ABI_MINOR,                \
            (uint32_t)(module_flags), (module_name), (module_version)};                          \
        return &chute_module_info_value;                                                         \
    }

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CHUTE_H */
