/*
 * hex.c: hex and base64 codecs, strict on input (they read untrusted
 * headers, signatures and keys).
 */
#include <string.h>

#include "hex.h"

static const char hex_digits[] = "0123456789abcdef";
static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
hex_encode(const uint8_t *in, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex_digits[in[i] >> 4];
		out[2 * i + 1] = hex_digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

fw_err
hex_decode(const char *in, size_t inlen, uint8_t *out, size_t n)
{
	if (n > SIZE_MAX / 2 || inlen != 2 * n)
		return fw_seterr(FW_ERR_INVALID, "hex: %zu digits, expected %zu",
		    inlen, 2 * n);
	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(in[2 * i]), lo = hex_value(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return fw_seterr(FW_ERR_INVALID,
			    "hex: non-hex digit at offset %zu", 2 * i + (hi < 0 ? 0 : 1));
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return FW_OK;
}

int
hex_is_lower(const char *s, size_t len)
{
	if (s == NULL || strlen(s) != len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

size_t
base64_enclen(size_t n)
{
	return (n + 2) / 3 * 4;
}

size_t
base64_enclen_raw(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

static size_t
base64_encode_common(const uint8_t *in, size_t n, char *out, int pad)
{
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64_alphabet[v >> 18];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

void
base64_encode(const uint8_t *in, size_t n, char *out)
{
	base64_encode_common(in, n, out, 1);
}

void
base64_encode_raw(const uint8_t *in, size_t n, char *out)
{
	base64_encode_common(in, n, out, 0);
}

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

fw_err
base64_decode(const char *in, size_t inlen, int padded, uint8_t *out,
    size_t cap, size_t *outlen)
{
	size_t body = inlen, o = 0, rem, need;
	uint32_t acc = 0;

	if (padded) {
		if (inlen % 4 != 0)
			return fw_seterr(FW_ERR_INVALID,
			    "base64: length %zu is not a multiple of 4", inlen);
		if (body > 0 && in[body - 1] == '=')
			body--;
		if (body > 0 && in[body - 1] == '=')
			body--;
	}
	rem = body % 4;
	if (rem == 1)
		return fw_seterr(FW_ERR_INVALID, "base64: impossible length %zu", inlen);
	need = body / 4 * 3 + (rem ? rem - 1 : 0);
	if (need > cap)
		return fw_seterr(FW_ERR_LIMIT, "base64: %zu bytes decoded, at most %zu expected",
		    need, cap);
	for (size_t i = 0; i < body; i++) {
		int v = b64_value(in[i]);
		if (v < 0)
			return fw_seterr(FW_ERR_INVALID,
			    "base64: invalid character at offset %zu", i);
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
		}
	}
	/* Leftover bits must be zero: anything else is a second spelling of
	 * the same bytes, which age (and we) refuse. */
	if (rem == 2) {
		if (acc & 0xf)
			return fw_seterr(FW_ERR_INVALID, "base64: non-canonical trailing bits");
		out[o++] = (uint8_t)(acc >> 4);
	} else if (rem == 3) {
		if (acc & 0x3)
			return fw_seterr(FW_ERR_INVALID, "base64: non-canonical trailing bits");
		out[o++] = (uint8_t)(acc >> 10);
		out[o++] = (uint8_t)(acc >> 2);
	}
	*outlen = o;
	return FW_OK;
}
