/*
 * fwvec.c: makes the protocol's worked example (proto/vectors/) with
 * fundwatch's own code, and exposes that code to the scripts that check it
 * against tools that are not ours (tests/integration/vectors.sh).
 *
 *   fwvec make DIR                     write every vector file into DIR
 *   fwvec age-decrypt KEYFILE IN OUT   our age decryptor
 *   fwvec age-encrypt RECIPIENT IN OUT our age encryptor (recipient age1…)
 *   fwvec verify PUB.pem MSG SIG       our Ed25519 verify (raw 64-byte SIG)
 *   fwvec inflate IN OUT               our capped inflate
 *   fwvec open-bundle PUB.pem BUNDLE   open + verify; prints the bundle id
 *   fwvec obs-canonical BUNDLE N       canonical bytes of observation N
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "fw.h"

static int
fail(const char *what, fw_err e)
{
	fprintf(stderr, "fwvec: %s: %s (%s)\n", what, fw_errmsg(), fw_strerror(e));
	return 1;
}

static fw_err
write_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return file_write_durable(path, p, n, 0644);
}

/* The first 32 non-comment characters of the last key line of a file. */
static fw_err
read_key_line(const char *path, char *out, size_t outsz)
{
	uint8_t *data;
	size_t len;
	char *line, *save = NULL;
	fw_err e;

	if ((e = file_read_all(path, 64 << 10, &data, &len)) != FW_OK)
		return e;
	out[0] = '\0';
	for (line = strtok_r((char *)data, "\r\n", &save); line != NULL;
	    line = strtok_r(NULL, "\r\n", &save))
		if (line[0] != '#' && line[0] != '\0')
			snprintf(out, outsz, "%s", line);
	OPENSSL_cleanse(data, len);
	free(data);
	return out[0] ? FW_OK : fw_seterr(FW_ERR_KEY, "%s: no key line", path);
}

static fw_err
buf_sink(void *ctx, const uint8_t *p, size_t n)
{
	return buf_add(ctx, p, n);
}

static fw_err
age_encrypt_buf(const uint8_t recip[AGE_KEY_LEN], const void *p, size_t n,
    struct buf *out)
{
	struct age_enc *enc;
	fw_err e;

	if ((e = age_enc_new(&enc, recip, buf_sink, out)) != FW_OK)
		return e;
	if ((e = age_enc_update(enc, p, n)) == FW_OK)
		e = age_enc_final(enc);
	age_enc_free(enc);
	return e;
}

static void
example_obs(struct fw_obs *o, uint64_t seq, const char *id, int64_t t)
{
	memset(o, 0, sizeof *o);
	snprintf(o->id, sizeof o->id, "%s", id);
	o->seq = seq;
	o->captured = t;
	o->severity = FW_SEV_NORMAL;
	o->subject.kind = FW_SUBJ_PHARMACY;
}

static int
cmd_make(const char *dir)
{
	static char *cats1[] = {"QY-5-1", "SWIPE-CARD"};
	static char *cats2[] = {"FALSE-INVOICE"};
	static const char evidence[] =
	    "收据编号 20261124-0042：社保卡代刷日用品 3 件，合计 128.00 元。\n"
	    "Receipt 20261124-0042: daily goods charged to the insurance card.\n";
	struct fw_manifest m = {0};
	struct fw_obs obs[2];
	struct fw_evidence ev = {0};
	struct ed25519_key *dev = NULL;
	uint8_t office[AGE_KEY_LEN], recip[AGE_KEY_LEN];
	char office_s[128], recip_s[128], id[SHA256_HEX + 1];
	char devid[ED25519_DEVICE_ID_LEN + 1];
	struct buf manifest, z, bundle, canon, agefile, text;
	fw_err e;
	int rc = 1;

	buf_init(&manifest, FW_MAX_MANIFEST);
	buf_init(&z, FW_MAX_BUNDLE);
	buf_init(&bundle, FW_MAX_BUNDLE);
	buf_init(&canon, FW_MAX_MANIFEST);
	buf_init(&agefile, 1 << 20);
	buf_init(&text, 4096);

	if ((e = file_mkdirs(dir, 0755)) != FW_OK)
		return fail(dir, e);
	if ((e = ed25519_generate(&dev)) != FW_OK ||
	    (e = ed25519_device_id(dev, devid)) != FW_OK)
		return fail("device key", e);
	if ((e = age_keygen(office)) != FW_OK ||
	    (e = age_recipient_of(office, recip)) != FW_OK ||
	    (e = age_identity_format(office, office_s, sizeof office_s)) != FW_OK ||
	    (e = age_recipient_format(recip, recip_s, sizeof recip_s)) != FW_OK)
		return fail("office key", e);

	/* Evidence: encrypt to the office, address by the ciphertext's hash. */
	if ((e = age_encrypt_buf(recip, evidence, sizeof evidence - 1, &agefile)) != FW_OK)
		return fail("age", e);
	ev.kind = FW_EV_DOCUMENT;
	ev.media_type = "text/plain";
	ev.size = sizeof evidence - 1;
	ev.captured = 1795510800;	/* 2026-11-24T09:00:00Z */
	if ((e = sha256_hex(evidence, sizeof evidence - 1, ev.sha256)) != FW_OK ||
	    (e = sha256_hex(agefile.data, agefile.len, ev.blob)) != FW_OK)
		return fail("sha256", e);
	ev.blob_size = agefile.len;

	example_obs(&obs[0], 1, "5f1c0e7a9b2d4c6e8f0a1b2c3d4e5f60", 1795510740);
	memset(obs[0].prev, '0', SHA256_HEX);
	obs[0].place.text = "清城区 松岗路 12 号 康民大药房";
	obs[0].place.has_geo = 1;
	obs[0].place.lat_e7 = 236817000;
	obs[0].place.lon_e7 = 1130342000;
	obs[0].place.has_accuracy = 1;
	obs[0].place.accuracy_m = 15;
	obs[0].subject.name = "康民大药房";
	obs[0].subject.institution = "P44180200123";
	obs[0].categories = cats1;
	obs[0].ncategories = 2;
	obs[0].what = "店员用参保人社保卡为他人购买日用品，并开具药品名目收据。\n"
	    "Staff used an insured person's card to buy daily goods for someone else.";
	obs[0].evidence = &ev;
	obs[0].nevidence = 1;

	example_obs(&obs[1], 2, "a0b1c2d3e4f5061728394a5b6c7d8e9f", 1795514400);
	if ((e = bundle_obs_hash(&obs[0], obs[1].prev)) != FW_OK)
		return fail("chain", e);
	obs[1].place.text = "清城区 人民医院 门诊";
	obs[1].subject.kind = FW_SUBJ_HOSPITAL;
	obs[1].subject.name = "清远市某人民医院";
	obs[1].categories = cats2;
	obs[1].ncategories = 1;
	obs[1].what = "Outpatient invoice lists a CT scan the patient did not receive.";
	obs[1].severity = FW_SEV_MAJOR;
	obs[1].task = "T-2026-017";

	m.version = FW_PROTO_VERSION;
	snprintf(m.device, sizeof m.device, "%s", devid);
	m.bundle_seq = 1;
	m.created = 1795518000;
	m.obs = obs;
	m.nobs = 2;

	if ((e = bundle_manifest_encode(&m, &manifest)) != FW_OK ||
	    (e = bundle_seal(&m, dev, &bundle, id)) != FW_OK ||
	    (e = bundle_obs_canonical(&obs[0], &canon)) != FW_OK ||
	    (e = compress_deflate(manifest.data, manifest.len, &z)) != FW_OK)
		return fail("bundle", e);

	buf_printf(&text, "# office age identity for the protocol vectors (a test key)\n"
	    "# public key: %s\n%s\n", recip_s, office_s);
	if ((e = write_file(dir, "office.key", text.data, text.len)) != FW_OK)
		goto out;
	buf_reset(&text);
	buf_printf(&text, "%s\n", recip_s);
	if ((e = write_file(dir, "office.pub", text.data, text.len)) != FW_OK)
		goto out;
	buf_reset(&text);
	buf_printf(&text, "%s\n", devid);
	if ((e = write_file(dir, "device.id", text.data, text.len)) != FW_OK)
		goto out;
	buf_reset(&text);
	buf_printf(&text, "%s\n", id);
	if ((e = write_file(dir, "bundle.id", text.data, text.len)) != FW_OK)
		goto out;
	{
		char path[4096];
		snprintf(path, sizeof path, "%s/device.pub.pem", dir);
		unlink(path);
		if ((e = ed25519_save_public(dev, path)) != FW_OK)
			goto out;
	}
	if ((e = write_file(dir, "manifest.json", manifest.data, manifest.len)) != FW_OK ||
	    (e = write_file(dir, "manifest.sig", bundle.data + 4, ED25519_SIG_LEN)) != FW_OK ||
	    (e = write_file(dir, "manifest.json.z", z.data, z.len)) != FW_OK ||
	    (e = write_file(dir, "bundle.fwb", bundle.data, bundle.len)) != FW_OK ||
	    (e = write_file(dir, "obs1.canonical", canon.data, canon.len)) != FW_OK ||
	    (e = write_file(dir, "evidence.txt", evidence, sizeof evidence - 1)) != FW_OK ||
	    (e = write_file(dir, "evidence.txt.age", agefile.data, agefile.len)) != FW_OK)
		goto out;
	printf("vectors: bundle %s of device %s written to %s\n", id, devid, dir);
	rc = 0;
out:
	if (rc != 0)
		fail("write", e);
	OPENSSL_cleanse(office, sizeof office);
	OPENSSL_cleanse(office_s, sizeof office_s);
	ed25519_free(dev);
	buf_free(&manifest);
	buf_free(&z);
	buf_free(&bundle);
	buf_free(&canon);
	buf_free(&agefile);
	OPENSSL_cleanse(text.data, text.alloc);
	buf_free(&text);
	return rc;
}

static int
open_fd(const char *path, int out)
{
	int fd = out ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
	    : open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		fprintf(stderr, "fwvec: %s: %s\n", path, strerror(errno));
	return fd;
}

static int
cmd_age(int decrypt, const char *key, const char *in, const char *out)
{
	uint8_t k[AGE_KEY_LEN];
	char line[256];
	int ifd, ofd;
	fw_err e;

	if (decrypt) {
		if ((e = read_key_line(key, line, sizeof line)) != FW_OK ||
		    (e = age_identity_parse(line, k)) != FW_OK)
			return fail(key, e);
	} else if ((e = age_recipient_parse(key, k)) != FW_OK)
		return fail(key, e);
	OPENSSL_cleanse(line, sizeof line);
	if ((ifd = open_fd(in, 0)) == -1)
		return 1;
	if ((ofd = open_fd(out, 1)) == -1) {
		close(ifd);
		return 1;
	}
	e = decrypt ? age_decrypt_fd(ifd, ofd, k) : age_encrypt_fd(ifd, ofd, k);
	OPENSSL_cleanse(k, sizeof k);
	close(ifd);
	if (close(ofd) == -1 && e == FW_OK)
		e = file_errno(errno, out);
	return e == FW_OK ? 0 : fail(in, e);
}

static int
cmd_verify(const char *pub, const char *msg, const char *sigpath)
{
	struct ed25519_key *k;
	uint8_t *m, *sig;
	size_t mlen, siglen;
	fw_err e;
	int rc;

	if ((e = ed25519_load_public(pub, &k)) != FW_OK)
		return fail(pub, e);
	if ((e = file_read_all(msg, FW_MAX_MANIFEST, &m, &mlen)) != FW_OK) {
		ed25519_free(k);
		return fail(msg, e);
	}
	if ((e = file_read_all(sigpath, 1024, &sig, &siglen)) != FW_OK) {
		ed25519_free(k);
		free(m);
		return fail(sigpath, e);
	}
	if (siglen != ED25519_SIG_LEN)
		e = fw_seterr(FW_ERR_SIGNATURE, "signature is %zu bytes, expected 64", siglen);
	else
		e = ed25519_verify(k, m, mlen, sig);
	rc = e == FW_OK ? 0 : fail("verify", e);
	if (rc == 0)
		printf("signature verified\n");
	ed25519_free(k);
	free(m);
	free(sig);
	return rc;
}

static int
cmd_inflate(const char *in, const char *out)
{
	struct buf b;
	uint8_t *z;
	size_t zlen;
	fw_err e;

	if ((e = file_read_all(in, FW_MAX_BUNDLE, &z, &zlen)) != FW_OK)
		return fail(in, e);
	buf_init(&b, FW_MAX_MANIFEST);
	e = compress_inflate(z, zlen, FW_MAX_MANIFEST, FW_MAX_INFLATE_RATIO, &b);
	free(z);
	if (e == FW_OK)
		e = file_write_durable(out, b.data, b.len, 0644);
	buf_free(&b);
	return e == FW_OK ? 0 : fail(in, e);
}

static int
load_bundle(const char *path, struct fw_bundle **b)
{
	uint8_t *p;
	size_t n;
	fw_err e;

	if ((e = file_read_all(path, FW_MAX_BUNDLE + 1, &p, &n)) != FW_OK)
		return fail(path, e);
	e = bundle_open(p, n, b);
	free(p);
	return e == FW_OK ? 0 : fail(path, e);
}

static int
cmd_open_bundle(const char *pub, const char *path)
{
	struct fw_bundle *b;
	struct ed25519_key *k;
	fw_err e;

	if ((e = ed25519_load_public(pub, &k)) != FW_OK)
		return fail(pub, e);
	if (load_bundle(path, &b) != 0) {
		ed25519_free(k);
		return 1;
	}
	e = bundle_verify(b, k);
	if (e == FW_OK)
		printf("%s\n", b->id);
	bundle_free(b);
	ed25519_free(k);
	return e == FW_OK ? 0 : fail("verify", e);
}

static int
cmd_obs_canonical(const char *path, const char *nstr)
{
	struct fw_bundle *b;
	struct buf out;
	char *end;
	unsigned long n = strtoul(nstr, &end, 10);
	fw_err e;

	if (*end != '\0' || load_bundle(path, &b) != 0)
		return 1;
	if (n >= b->m->nobs) {
		fprintf(stderr, "fwvec: bundle has %zu observations\n", b->m->nobs);
		bundle_free(b);
		return 1;
	}
	buf_init(&out, FW_MAX_MANIFEST);
	if ((e = bundle_obs_canonical(&b->m->obs[n], &out)) == FW_OK)
		fwrite(out.data, 1, out.len, stdout);
	buf_free(&out);
	bundle_free(b);
	return e == FW_OK ? 0 : fail("canonical", e);
}

int
main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	log_init("fwvec", 1, 0);
	if (strcmp(cmd, "make") == 0 && argc == 3)
		return cmd_make(argv[2]);
	if (strcmp(cmd, "age-decrypt") == 0 && argc == 5)
		return cmd_age(1, argv[2], argv[3], argv[4]);
	if (strcmp(cmd, "age-encrypt") == 0 && argc == 5)
		return cmd_age(0, argv[2], argv[3], argv[4]);
	if (strcmp(cmd, "verify") == 0 && argc == 5)
		return cmd_verify(argv[2], argv[3], argv[4]);
	if (strcmp(cmd, "inflate") == 0 && argc == 4)
		return cmd_inflate(argv[2], argv[3]);
	if (strcmp(cmd, "open-bundle") == 0 && argc == 4)
		return cmd_open_bundle(argv[2], argv[3]);
	if (strcmp(cmd, "obs-canonical") == 0 && argc == 4)
		return cmd_obs_canonical(argv[2], argv[3]);
	fprintf(stderr, "usage: fwvec make DIR | age-decrypt KEYFILE IN OUT |\n"
	    "       age-encrypt RECIPIENT IN OUT | verify PUB.pem MSG SIG |\n"
	    "       inflate IN OUT | open-bundle PUB.pem BUNDLE | obs-canonical BUNDLE N\n");
	return 2;
}
