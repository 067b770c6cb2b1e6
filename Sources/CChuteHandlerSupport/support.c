#include "chute_handler_support.h"

int chute_swift_call_main(void) {
    if (!chute_swift_main) return 0;
    chute_swift_main();
    return 1;
}
