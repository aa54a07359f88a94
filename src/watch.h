/* What an epoll_event's data.ptr points at in a worker's loop: a struct
 * watch as the first member of every watched object (connection, aux fd,
 * datagram socket, relay session), so the loop can tell them apart. */
#pragma once

enum watch_kind { WATCH_CONN, WATCH_AUX, WATCH_DGRAM, WATCH_UDPSESS, WATCH_QUEUE, WATCH_MAIL };

struct watch {
	enum watch_kind kind;
};
