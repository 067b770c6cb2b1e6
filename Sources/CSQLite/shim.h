#include <sqlite3.h>

/* SQLITE_TRANSIENT is a macro of a cast Swift cannot import: the binder copies the value. */
static inline sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }
