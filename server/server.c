/*
 * server.c: the open data folder: configuration, profile, database and
 * keys, as `run` and the admin subcommands use them.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "server.h"

void
server_path(const struct server *s, const char *rel, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s/%s", s->datadir, rel);
}

fw_err
server_open(const char *datadir, struct server **out)
{
	struct server *s;
	char path[PATH_MAX];
	fw_err e;

	if ((s = calloc(1, sizeof *s)) == NULL || (s->datadir = strdup(datadir)) == NULL) {
		free(s);
		return fw_seterr(FW_ERR_NOMEM, "out of memory");
	}
	server_path(s, "fundwatch.conf", path, sizeof path);
	if ((e = conf_defaults(srv_config_table, srv_config_table_len, &s->cfg)) != FW_OK ||
	    (e = conf_load(srv_config_table, srv_config_table_len, path, &s->cfg)) != FW_OK)
		goto fail;
	if (s->cfg.max_chunk > FW_MAX_CHUNK) {
		e = fw_seterr(FW_ERR_CONFIG, "%s: max_chunk %" PRIu64 " is over the "
		    "protocol's %u", path, s->cfg.max_chunk, FW_MAX_CHUNK);
		goto fail;
	}
	server_path(s, "profile.conf", path, sizeof path);
	if ((e = profile_load(path, &s->profile)) != FW_OK)
		goto fail;
	server_path(s, "fundwatch.db", path, sizeof path);
	if ((e = db_open(path, 0, &s->db)) != FW_OK)
		goto fail;
	server_path(s, "keys/receipt.key", path, sizeof path);
	if ((e = ed25519_load_private(path, &s->receipt_key)) != FW_OK)
		goto fail;
	server_path(s, "keys/office.key", path, sizeof path);
	if ((e = age_identity_load(path, s->office_identity)) != FW_OK ||
	    (e = age_recipient_of(s->office_identity, s->office_recipient)) != FW_OK)
		goto fail;
	*out = s;
	return FW_OK;
fail:
	server_close(s);
	return e;
}

void
server_close(struct server *s)
{
	if (s == NULL)
		return;
	if (s->db != NULL)
		sqlite3_close(s->db);
	profile_free(s->profile);
	ed25519_free(s->receipt_key);
	OPENSSL_cleanse(s->office_identity, sizeof s->office_identity);
	conf_free(srv_config_table, srv_config_table_len, &s->cfg);
	free(s->datadir);
	free(s);
}

const char *
server_datadir(const char *opt)
{
	const char *env = getenv("FUNDWATCH_DATA");

	if (opt != NULL)
		return opt;
	return env != NULL && *env != '\0' ? env : "/var/lib/fundwatch";
}
