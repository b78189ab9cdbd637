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
#endif
