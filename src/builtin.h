/* What the RFC 862-868 services say, as pure functions (no I/O). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* RFC 864: 95 printing characters (0x20..0x7E), lines of 72 plus CRLF,
 * line N starting at character N mod 95; the stream repeats every 95 lines. */
#define CHARGEN_LINE 74
#define CHARGEN_PERIOD (95 * CHARGEN_LINE)

/* Write len bytes of the endless chargen stream, starting at byte offset
 * (any value; taken modulo CHARGEN_PERIOD), into buf. */
void chargen_fill(uint8_t *buf, size_t len, uint64_t offset);

/* RFC 868: seconds since 1900-01-01 00:00 UTC, modulo 2^32. */
uint32_t rfc868_time(time_t unix_seconds);

/* The default daytime format, RFC 867's first example:
 * "Tuesday, February 22, 1982 17:37:43-PST". */
#define DAYTIME_DEFAULT_FORMAT "%A, %B %d, %Y %H:%M:%S-%Z"

/* Format t (local time) with strftime format fmt, then append CRLF.
 * Returns the length without a NUL, or 0 when it does not fit in size
 * or the result is empty. The C locale is assumed, so the output is ASCII.
 * buf is NUL-terminated, so size must leave room for CRLF and the NUL. */
size_t daytime_format(char *buf, size_t size, const char *fmt, time_t t);

/* For config validation: true when fmt, applied to a fixed date, gives
 * 1..200 bytes of printable ASCII (0x20..0x7E; no tabs or newlines). */
bool daytime_format_valid(const char *fmt);
