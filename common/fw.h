/*
 * fw.h: fundwatch's common library in one include, and the protocol's
 * version and limits (proto/PROTOCOL.md, section "Limits").  A limit is part
 * of the wire contract: changing one changes the protocol.
 */
#ifndef FW_FW_H
#define FW_FW_H

#include <stddef.h>
#include <stdint.h>

#define FW_VERSION		"0.1.0"
#define FW_PROTO_VERSION	1

/* Bundles and manifests. */
#define FW_MAX_BUNDLE		(2u << 20)	/* container bytes on the wire */
#define FW_MAX_MANIFEST		(8u << 20)	/* manifest bytes after inflation */
#define FW_MAX_INFLATE_RATIO	100		/* output/input past the first 64 KiB */
#define FW_INFLATE_RATIO_FREE	(64u << 10)
#define FW_MAX_OBSERVATIONS	256		/* per bundle */
#define FW_MAX_EVIDENCE		32		/* per observation */
#define FW_MAX_CATEGORIES	16		/* per observation */
#define FW_MAX_SEQ		((UINT64_C(1) << 53) - 1) /* JSON-safe integer */
#define FW_MAX_CLOCK_OFFSET	(INT64_C(1) << 40)	/* seconds, either way */

/* Text fields, in bytes of UTF-8. */
#define FW_MAX_WHAT		16384
#define FW_MAX_NAME		256
#define FW_MAX_PLACE		512
#define FW_MAX_CODE		32		/* category, institution, task ids */
#define FW_MAX_MEDIA_TYPE	127

/* Evidence and uploads. */
#define FW_MAX_BLOB		(UINT64_C(4) << 30)	/* stored ciphertext */
#define FW_MAX_CHUNK		(4u << 20)
#define FW_DEFAULT_CHUNK	(1u << 20)

/* Request authentication. */
#define FW_AUTH_WINDOW		300	/* seconds either side of server time */
#define FW_NONCE_HEX		32	/* 16 random bytes, lowercase hex */

#include "err.h"
#include "log.h"
#include "buf.h"
#include "file.h"
#include "hex.h"
#include "sha256.h"
#include "ed25519.h"
#include "compress.h"
#include "jsonx.h"
#include "conf.h"
#include "age.h"
#include "bundle.h"

#endif
