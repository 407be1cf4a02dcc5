/*
 * remote_int.h — what remote.c, remote_xfer.c and remote_sync.c share: the
 * remote's state and its error messages (src/net/ only).
 */
#ifndef ENGRAVE_NET_REMOTE_INT_H
#define ENGRAVE_NET_REMOTE_INT_H

#include "engrave/http.h"
#include "engrave/remote.h"

struct remote {
	char *url; /* no trailing '/' */
	char auth[1024];
	struct http_header hdr[1];
	int n_hdr;
	int max_in_flight;
	int progress;
	struct http_client *client;
	struct remote_stats st;
};

/* "remote METHOD URL: 401 ..." with what to do; ERR_NET. */
int remote_auth_error(const struct remote *r, const char *method, const char *url, long status, struct err *e);
/* "remote METHOD URL: HTTP 500" or the transport error; ERR_NET. */
int remote_status_error(const char *method, const char *url, const struct http_response *rs, struct err *e);

#endif
