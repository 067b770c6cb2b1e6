#include "chute_handler_support.h"
