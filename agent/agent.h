/*
 * agent.h: fundwatch-agent, the field daemon.  Every struct and function of
 * the agent is declared here, grouped by the file that defines it.
 *
 * Shape: main.c parses the command line (cmd.c holds the subcommands).
 * store.c owns the data folder: SQLite (WAL, synchronous=FULL) and the
 * blob folder of age-encrypted evidence; nothing else writes there.
 * net.c is the HTTPS client (libcurl multi, pinned CA, signed requests);
 * sync.c drives one sync pass over it (seal, offer, upload, commit,
 * receipt, feed) and daemon.c the `run` loop (one poll loop: curl multi,
 * timers, the nudge socket of the subcommands).
 *
 * Data folder (default /var/lib/fundwatch-agent, $FUNDWATCH_AGENT_DATA):
 *   agent.db             SQLite: enrollment, observations, evidence index,
 *                        bundles, receipts, feed
 *   device.key           Ed25519 private key (0600)
 *   ca.pem               the office CA pinned at enrollment
 *   blobs/<sha256>       evidence as age files to the office recipient
 *   tmp/                 blobs being written (removed at start-up)
 *   outbox/              bundles sealed for export
 *   run.sock             the daemon's nudge socket
 *
 * Life of an observation: captured (seq assigned, content durable) ->
 * evidence attached (only while unsealed) -> sealed into a bundle (the hash
 * chain's prev fixed, in seq order) -> offered, blobs uploaded, committed
 * -> receipt verified (server key) -> purged after the retention time
 * (evidence and text deleted; id, seq, times, receipt and status kept).
 */
#ifndef FW_AGENT_H
#define FW_AGENT_H

#include <stdint.h>

#include <sqlite3.h>

#include "fw.h"

#endif
