/* The no-op handler exports only the Chute ABI symbols declared in chute.h. */
