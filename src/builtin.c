#include <stdbool.h>
#include <string.h>

#include "builtin.h"

#define CHARGEN_RING 95
#define CHARGEN_COLS 72

/* The ring twice over, so any line is one contiguous run of 72 bytes. */
#define RING_CHARS \
	" !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNO" \
	"PQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"
static const char chargen_ring2[] = RING_CHARS RING_CHARS;

_Static_assert(sizeof(chargen_ring2) == 2 * CHARGEN_RING + 1, "chargen ring is not 95 characters");
_Static_assert(CHARGEN_LINE == CHARGEN_COLS + 2, "chargen line is 72 characters plus CRLF");

#define RFC868_EPOCH_OFFSET 2208988800u         /* 1900-01-01 to 1970-01-01 */

/* Output longer than this is no longer "one line" for daytime. */
#define DAYTIME_VALID_MAX 200

void
chargen_fill(uint8_t *buf, size_t len, uint64_t offset)
{
	size_t pos = offset % CHARGEN_PERIOD;
	size_t head = len < CHARGEN_PERIOD ? len : CHARGEN_PERIOD;
	size_t done = 0;

	while (done < head) {
		size_t line = pos / CHARGEN_LINE, col = pos % CHARGEN_LINE;
		size_t n = CHARGEN_LINE - col;
		uint8_t l[CHARGEN_LINE];

		memcpy(l, chargen_ring2 + line, CHARGEN_COLS);
		l[CHARGEN_COLS] = '\r';
		l[CHARGEN_COLS + 1] = '\n';
		if (n > head - done)
			n = head - done;
		memcpy(buf + done, l + col, n);
		done += n;
		pos = (pos + n) % CHARGEN_PERIOD;
	}

	/* buf now holds one whole period (or all of len); the rest repeats
	 * it, so copy from the front in chunks that double each time, which
	 * stays linear and lets memcpy work on large blocks. */
	while (done < len) {
		size_t n = len - done < done ? len - done : done;

		memcpy(buf + done, buf, n);
		done += n;
	}
}

uint32_t
rfc868_time(time_t unix_seconds)
{
	/* Unsigned arithmetic wraps by definition, which is what RFC 868
	 * needs after 2036-02-07 and gives the right residue for t < 0. */
	return (uint32_t)((uint64_t)unix_seconds + RFC868_EPOCH_OFFSET);
}

/* The format comes from the configuration, never from a client. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static size_t
daytime_strftime(char *buf, size_t size, const char *fmt, time_t t)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return strftime(buf, size, fmt, &tm);
}
#pragma GCC diagnostic pop

size_t
daytime_format(char *buf, size_t size, const char *fmt, time_t t)
{
	size_t n;

	if (size < 3) {
		if (size > 0)
			buf[0] = '\0';
		return 0;
	}
	/* Leave room for CRLF and the NUL. */
	n = daytime_strftime(buf, size - 2, fmt, t);
	if (n == 0) {
		buf[0] = '\0';
		return 0;
	}
	memcpy(buf + n, "\r\n", 3);
	return n + 2;
}

bool
daytime_format_valid(const char *fmt)
{
	/* A date with two-digit fields everywhere, so widths are typical. */
	const time_t sample = 383233063;        /* 1982-02-22 13:37:43 UTC */
	char buf[DAYTIME_VALID_MAX + 2];
	size_t n;

	if (fmt == NULL)
		return false;
	n = daytime_strftime(buf, sizeof(buf), fmt, sample);
	if (n == 0 || n > DAYTIME_VALID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
			return false;
	return true;
}
