/* libpq, PostgreSQL's own C client: a blocking API that the PostgreSQL store runs on threads of its own. */
#include <libpq-fe.h>
