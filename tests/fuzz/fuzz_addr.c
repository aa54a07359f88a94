/* addr_parse() takes listen and upstream addresses from the config file.
 *
 * Properties: a parsed address formats to text that parses back to an
 * equal address and formats the same again (what `sockd -nv` and the
 * reload's "unchanged endpoint" test rely on), and its sockaddr, read back
 * the way an adopted systemd socket is (addr_from_sockaddr), is equal too.
 *
 * An input starting with a NUL byte is not text but a raw sockaddr (what
 * accept/recvfrom and a PROXY header hand to addr_format_peer and
 * addr_from_sockaddr): those must stay within the length they are given. */
#include <stdbool.h>
#include <sys/un.h>

#include "addr.h"
#include "fuzz.h"

/* Control bytes in a Unix path are shown as '?' by design (a log line
 * stays one line), so only names without them can round-trip as text. */
static bool
no_control_bytes(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

static void
check_format_sizes(const struct addr *a, const char *full)
{
	char small[ADDR_STRLEN];
	size_t n = strlen(full);

	/* A short buffer gets a NUL-terminated prefix, never an overflow. */
	for (size_t size = 1; size <= n + 1 && size <= sizeof(small); size += 7) {
		addr_format(a, small, size);
		FUZZ_ASSERT(strlen(small) < size);
		FUZZ_ASSERT(strncmp(small, full, strlen(small)) == 0);
	}
}

static void
raw_sockaddr(const uint8_t *data, size_t size)
{
	/* Exactly size bytes, so ASan sees any read beyond the length. */
	struct sockaddr *sa = malloc(size ? size : 1);
	static const int types[] = { SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET };
	char buf[ADDR_STRLEN], buf2[ADDR_STRLEN];
	struct addr a, b;

	memcpy(sa, data, size);
	addr_format_peer(sa, (socklen_t)size, buf, sizeof(buf));
	FUZZ_ASSERT(strlen(buf) < sizeof(buf));
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (addr_from_sockaddr(types[i], sa, (socklen_t)size, &a) < 0)
			continue;
		FUZZ_ASSERT(a.len <= sizeof(a.sa));
		FUZZ_ASSERT(addr_socktype(&a) == types[i]);
		FUZZ_ASSERT(addr_equal(&a, &a));
		/* Normalised once, it is a fixed point. */
		FUZZ_ASSERT(addr_from_sockaddr(types[i], (struct sockaddr *)&a.sa, a.len, &b) == 0);
		FUZZ_ASSERT(addr_equal(&a, &b));
		addr_format(&a, buf, sizeof(buf));
		addr_format(&b, buf2, sizeof(buf2));
		FUZZ_ASSERT(strcmp(buf, buf2) == 0);
	}
	free(sa);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[ADDR_STRLEN], buf2[ADDR_STRLEN];
	const char *why = NULL;
	struct addr a, b, c;
	char *text;

	if (size > 0 && data[0] == '\0') {
		raw_sockaddr(data + 1, size - 1);
		return 0;
	}
	text = fuzz_strdup(data, size);
	if (addr_parse(text, &a, &why) < 0) {
		FUZZ_ASSERT(why != NULL && *why != '\0');
		free(text);
		return 0;
	}
	FUZZ_ASSERT(a.len > 0 && a.len <= sizeof(a.sa));
	FUZZ_ASSERT(addr_family(&a) == AF_INET || addr_family(&a) == AF_INET6 ||
		    addr_family(&a) == AF_UNIX);
	FUZZ_ASSERT(addr_equal(&a, &a));

	addr_format(&a, buf, sizeof(buf));
	check_format_sizes(&a, buf);

	/* What a socket bound to a reports is the same address. */
	FUZZ_ASSERT(addr_from_sockaddr(addr_socktype(&a), (struct sockaddr *)&a.sa, a.len, &c) == 0);
	/* A name and a type cannot tell mptcp from tcp (SO_PROTOCOL can:
	 * the caller's part). */
	if (a.type == ADDR_MPTCP) {
		FUZZ_ASSERT(c.type == ADDR_TCP);
		c.type = ADDR_MPTCP;
	}
	FUZZ_ASSERT(addr_equal(&a, &c));

	if (no_control_bytes(text)) {
		why = NULL;
		if (addr_parse(buf, &b, &why) != 0) {
			fprintf(stderr, "'%s' formats as '%s', which does not parse: %s\n", text, buf, why);
			abort();
		}
		FUZZ_ASSERT(addr_equal(&a, &b));
		addr_format(&b, buf2, sizeof(buf2));
		FUZZ_ASSERT(strcmp(buf, buf2) == 0);
	}
	free(text);
	return 0;
}
