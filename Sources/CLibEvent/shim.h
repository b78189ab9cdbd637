#ifndef CLIBEVENT_SHIM_H
#define CLIBEVENT_SHIM_H
/* Every shim defines _GNU_SOURCE before any system header (libevent's headers do), so that
   glibc's structures look the same in every C module Swift loads side by side. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
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
