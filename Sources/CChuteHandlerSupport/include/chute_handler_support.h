/* Glue between the Swift handler SDK (ChuteHandler) and the handler it hosts. */
#ifndef CHUTE_HANDLER_SUPPORT_H
#define CHUTE_HANDLER_SUPPORT_H

/* Defined by the handler's own target, once per library:
 *     @_cdecl("chute_swift_main") public func chuteSwiftMain() { Chute.register(...) }
 * Weak, so a library without it loads and then reports a clear init error instead of failing
 * to resolve a symbol. */
void chute_swift_main(void) __attribute__((weak));

/* Calls chute_swift_main if the library defines it; returns 0 if it does not. */
int chute_swift_call_main(void);

#endif
