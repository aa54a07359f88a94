/*
 * inotify on the directories of the inetd.conf source. Files are watched
 * through their directory: a file replaced by rename() (update-inetd, most
 * editors) would take a watch on the file itself with it. Events for other
 * names in the directory (/etc changes all the time) are read and dropped.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "conf_watch.h"
#include "log.h"

/* What a new version of a file looks like: written and closed, renamed
 * into place or away, created, deleted. */
#define EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | \
		IN_DELETE_SELF | IN_MOVE_SELF)

struct conf_watch {
	int fd;
	int wd_file;                    /* the directory of inetd_conf, or -1 */
	char *file_name;                /* inetd_conf's name in it */
	int wd_dir;                     /* inetd_dir, or -1 */
};

int
conf_watch_new(struct conf_watch **out)
{
	struct conf_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd == -1) {
		int r = -errno;

		free(w);
		return r;
	}
	w->wd_file = -1;
	w->wd_dir = -1;
	*out = w;
	return 0;
}

static void
forget(struct conf_watch *w)
{
	if (w->wd_file >= 0)
		inotify_rm_watch(w->fd, w->wd_file);
	if (w->wd_dir >= 0 && w->wd_dir != w->wd_file)
		inotify_rm_watch(w->fd, w->wd_dir);
	w->wd_file = -1;
	w->wd_dir = -1;
	free(w->file_name);
	w->file_name = NULL;
}

void
conf_watch_free(struct conf_watch *w)
{
	if (!w)
		return;
	forget(w);
	close(w->fd);
	free(w);
}

static int
watch_dir(struct conf_watch *w, const char *dir, const char *what)
{
	int wd = inotify_add_watch(w->fd, dir, EVENTS | IN_ONLYDIR);

	if (wd == -1)
		log_notice("not watching %s for %s changes: %s", dir, what, strerror(errno));
	return wd;
}

void
conf_watch_set(struct conf_watch *w, const struct sockd_config *cfg)
{
	const char *file = cfg->daemon.inetd_conf, *slash;

	forget(w);
	if (file && (slash = strrchr(file, '/')) && slash[1]) {
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%.*s", slash == file ? 1 : (int)(slash - file), file);
		w->file_name = strdup(slash + 1);
		if (w->file_name)
			w->wd_file = watch_dir(w, dir, "inetd_conf");
	}
	/* inotify gives the same descriptor for the same directory twice. */
	if (cfg->daemon.inetd_dir)
		w->wd_dir = watch_dir(w, cfg->daemon.inetd_dir, "inetd_dir");
}

int
conf_watch_fd(const struct conf_watch *w)
{
	return w->fd;
}

bool
conf_watch_changed(struct conf_watch *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;

	/* Bounded: a directory changing faster than we read is read in
	 * rounds, between which the main loop does its other work. */
	for (int round = 0; round < 16; round++) {
		ssize_t n = read(w->fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				changed = true;         /* lost events: look again */
				continue;
			}
			if (ev->wd < 0)
				continue;
			if (ev->wd == w->wd_dir)
				changed |= !ev->len || ev->name[0] != '.';
			if (ev->wd == w->wd_file && w->file_name &&
			    (!ev->len || strcmp(ev->name, w->file_name) == 0))
				changed = true;
		}
	}
	return changed;
}
