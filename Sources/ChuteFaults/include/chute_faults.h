/* ChuteFaults: a handler whose behaviour the event chooses, for testing how a system copes with
 * crashes, timeouts and misbehaving handlers. See faults.c for the event format. */
#ifndef CHUTE_FAULTS_H
#define CHUTE_FAULTS_H
#include "chute.h"
#endif
