/*
 * agent.h: fundwatch-agent, the field daemon.  Every struct and function of
 * the agent is declared here, grouped by the file that defines it.
 */
#ifndef FW_AGENT_H
#define FW_AGENT_H

#include "fw.h"

#endif
