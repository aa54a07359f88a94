/* config_load() reads sockd.conf and its include_dir fragments: the input
 * is a whole file, written to a private temporary directory (in /dev/shm
 * when there is one) and loaded as sockd -n would.
 *
 * Properties (config.h): a refused file yields at least one diagnostic,
 * each one line without control bytes; a loaded file dumps (sockd -nv) to
 * text that loads again and dumps to the very same text.
 *
 * Inputs with libconfig's "@include" directive are skipped: it would let
 * the fuzzer read any file of the machine (/dev/zero, a FIFO), which says
 * nothing about sockd. include_dir is sockd's own and stays in: it finds
 * no *.conf in the places a fuzzer is likely to name. Host names resolve
 * only when numeric (nonet.c). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

static char dir[PATH_MAX], path[PATH_MAX], path2[PATH_MAX];

static void
cleanup(void)
{
	unlink(path);
	unlink(path2);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/sockd-fuzz-config-XXXXXX", base ? base : "/tmp");
	FUZZ_ASSERT(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/sockd.conf", dir);
	snprintf(path2, sizeof(path2), "%s/dumped.conf", dir);
	atexit(cleanup);
	return 0;
}

static void
write_file(const char *p, const void *data, size_t size)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	FUZZ_ASSERT(fd >= 0);
	FUZZ_ASSERT(write(fd, data, size) == (ssize_t)size);
	close(fd);
}

static char *
dump(const struct sockd_config *cfg, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	FUZZ_ASSERT(f != NULL);
	config_dump(cfg, f);
	FUZZ_ASSERT(fclose(f) == 0);
	return text;
}

static void
check_diag(const struct diag *d, int r)
{
	if (r == -EINVAL)
		FUZZ_ASSERT(d->n > 0);
	for (size_t i = 0; i < d->n; i++)
		for (const unsigned char *p = (const unsigned char *)d->lines[i]; *p; p++)
			FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockd_config *cfg = NULL, *again = NULL;
	struct diag d = { 0 }, d2 = { 0 };
	char *text, *text2;
	size_t len, len2;
	int r;

	if (memmem(data, size, "@include", 8))
		return 0;
	write_file(path, data, size);
	r = config_load(path, &cfg, &d);
	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	check_diag(&d, r);
	diag_free(&d);
	if (r < 0) {
		FUZZ_ASSERT(cfg == NULL);
		return 0;
	}

	text = dump(cfg, &len);
	/* Endpoints from include_dir are dumped inline and the directory
	 * commented out, so only a file without them is its own fixed point. */
	if (cfg->n_included == 0) {
		write_file(path2, text, len);
		r = config_load(path2, &again, &d2);
		if (r != 0) {
			fprintf(stderr, "the dump of a valid config does not load:\n%s\n", text);
			for (size_t i = 0; i < d2.n; i++)
				fprintf(stderr, "  %s\n", d2.lines[i]);
			abort();
		}
		text2 = dump(again, &len2);
		if (len != len2 || memcmp(text, text2, len) != 0) {
			fprintf(stderr, "dump, load, dump differs:\n--- first\n%s\n--- second\n%s\n",
				text, text2);
			abort();
		}
		free(text2);
		config_free(again);
		diag_free(&d2);
	}
	free(text);
	config_free(cfg);
	return 0;
}
