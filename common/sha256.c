/*
 * sha256.c: SHA-256 over OpenSSL's EVP digest interface, streaming.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "file.h"
#include "hex.h"
#include "sha256.h"

struct sha256 {
	EVP_MD_CTX *ctx;
};

fw_err
sha256_new(struct sha256 **out)
{
	struct sha256 *s = OPENSSL_zalloc(sizeof *s);

	if (s == NULL)
		return fw_seterr(FW_ERR_NOMEM, "sha256: out of memory");
	if ((s->ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
		sha256_free(s);
		return fw_seterr(FW_ERR_CRYPTO, "sha256: cannot initialise digest");
	}
	*out = s;
	return FW_OK;
}

fw_err
sha256_update(struct sha256 *s, const void *p, size_t n)
{
	if (n > 0 && EVP_DigestUpdate(s->ctx, p, n) != 1)
		return fw_seterr(FW_ERR_CRYPTO, "sha256: update failed");
	return FW_OK;
}

fw_err
sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN])
{
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(s->ctx, out, &len) != 1 || len != SHA256_LEN ||
	    EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1)
		return fw_seterr(FW_ERR_CRYPTO, "sha256: final failed");
	return FW_OK;
}

void
sha256_free(struct sha256 *s)
{
	if (s == NULL)
		return;
	EVP_MD_CTX_free(s->ctx);
	OPENSSL_free(s);
}

fw_err
sha256(const void *p, size_t n, uint8_t out[SHA256_LEN])
{
	unsigned int len = 0;

	if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1 || len != SHA256_LEN)
		return fw_seterr(FW_ERR_CRYPTO, "sha256: digest failed");
	return FW_OK;
}

fw_err
sha256_hex(const void *p, size_t n, char out[SHA256_HEX + 1])
{
	uint8_t md[SHA256_LEN];
	fw_err e;

	if ((e = sha256(p, n, md)) != FW_OK)
		return e;
	hex_encode(md, sizeof md, out);
	return FW_OK;
}

fw_err
sha256_file(const char *path, uint8_t out[SHA256_LEN], uint64_t *size)
{
	struct sha256 *s = NULL;
	uint8_t chunk[64 << 10];
	uint64_t total = 0;
	fw_err e;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return file_errno(errno, path);
	if ((e = sha256_new(&s)) != FW_OK)
		goto done;
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			e = file_errno(errno, path);
			goto done;
		}
		if (r == 0)
			break;
		if ((e = sha256_update(s, chunk, (size_t)r)) != FW_OK)
			goto done;
		total += (uint64_t)r;
	}
	if ((e = sha256_final(s, out)) == FW_OK && size != NULL)
		*size = total;
done:
	sha256_free(s);
	close(fd);
	return e;
}
