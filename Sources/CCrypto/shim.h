#ifndef CCRYPTO_SHIM_H
#define CCRYPTO_SHIM_H
/* Every shim defines _GNU_SOURCE before any system header (libevent's headers do), so that
   glibc's structures look the same in every C module Swift loads side by side. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#endif
