#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

/* libcurl is loaded with dlopen when first needed, not linked: local development mode never calls
   AWS, and libcurl brings some thirty libraries (GnuTLS, Kerberos, LDAP, libssh2, ...) that cost
   about 3.5 MiB of resident memory once mapped. Only the types and constants come from curl.h;
   every function is called through the table below, as CCurl_<name> for curl_<name>.

   The table is a static local, so each object file that calls these may have its own copy, each
   filled once (pthread_once) from the same library handle: the copies always agree. (A static
   global would not do: Swift takes a header's globals for declarations and emits none.) */
struct CCurl_functions {
    const char *error; /* NULL once every function below was found */
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_cleanup)(CURLM *);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_perform)(CURLM *, int *);
    CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned int, int, int *);
    CURLMcode (*multi_wakeup)(CURLM *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    const char *(*multi_strerror)(CURLMcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
};

static inline struct CCurl_functions *CCurl_storage(void) {
    static struct CCurl_functions table;
    return &table;
}

static void CCurl_fill_table(void) {
    struct CCurl_functions *table = CCurl_storage();
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        table->error = "cannot load libcurl.so.4 (install libcurl4)";
        return;
    }
    int missing = 0;
#define CCURL_RESOLVE(name) \
    missing |= (*(void **)&table->name = dlsym(library, "curl_" #name)) == NULL
    CCURL_RESOLVE(global_init); CCURL_RESOLVE(easy_init); CCURL_RESOLVE(easy_cleanup);
    CCURL_RESOLVE(easy_setopt); CCURL_RESOLVE(easy_getinfo); CCURL_RESOLVE(easy_strerror);
    CCURL_RESOLVE(multi_init); CCURL_RESOLVE(multi_cleanup); CCURL_RESOLVE(multi_setopt);
    CCURL_RESOLVE(multi_add_handle); CCURL_RESOLVE(multi_remove_handle); CCURL_RESOLVE(multi_perform);
    CCURL_RESOLVE(multi_poll); CCURL_RESOLVE(multi_wakeup); CCURL_RESOLVE(multi_info_read);
    CCURL_RESOLVE(multi_strerror); CCURL_RESOLVE(slist_append); CCURL_RESOLVE(slist_free_all);
#undef CCURL_RESOLVE
    if (missing) table->error = "libcurl.so.4 lacks a function the agent needs (libcurl 7.68 or later is)";
}

static inline const struct CCurl_functions *CCurl_api(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, CCurl_fill_table);
    return CCurl_storage();
}

/* Loads libcurl if it is not yet; NULL when it is usable, else why not. Call before any other. */
static inline const char *CCurl_load(void) { return CCurl_api()->error; }

static inline CURLcode CCurl_global_init(long flags) { return CCurl_api()->global_init(flags); }
static inline CURL *CCurl_easy_init(void) { return CCurl_api()->easy_init(); }
static inline void CCurl_easy_cleanup(CURL *h) { CCurl_api()->easy_cleanup(h); }
static inline const char *CCurl_easy_strerror(CURLcode c) { return CCurl_api()->easy_strerror(c); }
static inline CURLM *CCurl_multi_init(void) { return CCurl_api()->multi_init(); }
static inline CURLMcode CCurl_multi_cleanup(CURLM *m) { return CCurl_api()->multi_cleanup(m); }
static inline CURLMcode CCurl_multi_add_handle(CURLM *m, CURL *h) { return CCurl_api()->multi_add_handle(m, h); }
static inline CURLMcode CCurl_multi_remove_handle(CURLM *m, CURL *h) { return CCurl_api()->multi_remove_handle(m, h); }
static inline CURLMcode CCurl_multi_perform(CURLM *m, int *running) { return CCurl_api()->multi_perform(m, running); }
static inline CURLMcode CCurl_multi_poll(CURLM *m, struct curl_waitfd extra[], unsigned int count, int timeout, int *ready) {
    return CCurl_api()->multi_poll(m, extra, count, timeout, ready);
}
static inline CURLMcode CCurl_multi_wakeup(CURLM *m) { return CCurl_api()->multi_wakeup(m); }
static inline CURLMsg *CCurl_multi_info_read(CURLM *m, int *remaining) { return CCurl_api()->multi_info_read(m, remaining); }
static inline const char *CCurl_multi_strerror(CURLMcode c) { return CCurl_api()->multi_strerror(c); }
static inline struct curl_slist *CCurl_slist_append(struct curl_slist *l, const char *s) { return CCurl_api()->slist_append(l, s); }
static inline void CCurl_slist_free_all(struct curl_slist *l) { CCurl_api()->slist_free_all(l); }

/* curl_easy_setopt and curl_easy_getinfo are variadic: typed wrappers Swift can call. */
static inline CURLcode CCurl_setopt_long(CURL *h, CURLoption o, long v) { return CCurl_api()->easy_setopt(h, o, v); }
static inline CURLcode CCurl_setopt_off_t(CURL *h, CURLoption o, curl_off_t v) { return CCurl_api()->easy_setopt(h, o, v); }
static inline CURLcode CCurl_setopt_string(CURL *h, CURLoption o, const char *v) { return CCurl_api()->easy_setopt(h, o, v); }
static inline CURLcode CCurl_setopt_pointer(CURL *h, CURLoption o, void *v) { return CCurl_api()->easy_setopt(h, o, v); }
static inline CURLcode CCurl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return CCurl_api()->easy_setopt(h, o, v); }
static inline CURLcode CCurl_setopt_write_callback(CURL *h, size_t (*cb)(char *, size_t, size_t, void *)) {
    return CCurl_api()->easy_setopt(h, CURLOPT_WRITEFUNCTION, cb);
}
static inline CURLcode CCurl_setopt_header_callback(CURL *h, size_t (*cb)(char *, size_t, size_t, void *)) {
    return CCurl_api()->easy_setopt(h, CURLOPT_HEADERFUNCTION, cb);
}
static inline CURLcode CCurl_getinfo_long(CURL *h, CURLINFO i, long *v) { return CCurl_api()->easy_getinfo(h, i, v); }
static inline CURLcode CCurl_getinfo_off_t(CURL *h, CURLINFO i, curl_off_t *v) { return CCurl_api()->easy_getinfo(h, i, v); }
static inline CURLcode CCurl_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return CCurl_api()->easy_getinfo(h, i, v); }
static inline CURLMcode CCurl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return CCurl_api()->multi_setopt(m, o, v); }
/* Macros built from shifts and ORs, as plain constants. */
static inline long CCurl_global_default(void) { return CURL_GLOBAL_DEFAULT; }
static inline long CCurl_header_separate(void) { return CURLHEADER_SEPARATE; }
#endif
