/*
 * server.h: fundwatch-server, the central office's server.  Every struct and
 * function of the server is declared here, grouped by the file that defines
 * it.
 */
#ifndef FW_SERVER_H
#define FW_SERVER_H

#include "fw.h"

#endif
