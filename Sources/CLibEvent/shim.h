#ifndef CLIBEVENT_SHIM_H
#define CLIBEVENT_SHIM_H
/* libevent's event-config.h defines _GNU_SOURCE, which changes how glibc declares some structures
   (fd_set's member names). Include those glibc headers first, as Swift's Glibc module sees them, so
   every C module Swift loads side by side agrees on them. */
#include <sys/types.h>
#include <sys/select.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>

/* Walk a request's header list; the TAILQ macros do not import into Swift. */
static inline struct evkeyval *CLibEvent_headers_first(struct evkeyvalq *headers) {
    return headers->tqh_first;
}
static inline struct evkeyval *CLibEvent_headers_next(struct evkeyval *header) {
    return header->next.tqe_next;
}

/* The request's HTTP version, which libevent 2.1 has no accessor for: read through the public
   layout in http_struct.h (part of libevent's ABI), included under another struct name so that
   Swift keeps seeing `struct evhttp_request` as opaque. Returns the minor version of HTTP/1.x,
   or -1 for any other major version. */
#define evhttp_request CLibEvent_request_layout
#include <event2/http_struct.h>
#undef evhttp_request
static inline int CLibEvent_request_http1_minor(const struct evhttp_request *request) {
    const struct CLibEvent_request_layout *layout = (const struct CLibEvent_request_layout *)(const void *)request;
    return layout->major == 1 ? layout->minor : -1;
}
#endif
