/*
 * The smallest Chute handler: returns success with an empty response. The benchmark uses it to
 * measure what the host itself costs per invocation; it is also the shortest example of the ABI.
 */
#include "chute.h"

CHUTE_MODULE("noop", "1.0.0", CHUTE_FLAG_THREAD_SAFE)

int32_t chute_handle(const chute_host_api *host, chute_call *call, void *state, const uint8_t *event, size_t event_len) {
    (void)host; (void)call; (void)state; (void)event; (void)event_len;
    return CHUTE_OK;
}
