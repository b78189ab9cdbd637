#ifndef CCRYPTO_SHIM_H
#define CCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

/* SHA-256 of a ‖ b into out (32 bytes); 1 on success.
 *
 * The split rules of feature flags hash a short string up to a few dozen times per request. Through
 * EVP (even with the algorithm fetched once and the context reused) a 40-byte input costs about
 * 230 ns here; through libcrypto's SHA256_Init/Update/Final, 85 ns. Those are deprecated since
 * OpenSSL 3.0 but still built; where they are not (OPENSSL_NO_DEPRECATED_3_0), EVP is used. */
static inline int ccrypto_sha256_concat(const unsigned char *a, size_t a_len, const unsigned char *b, size_t b_len,
                                        unsigned char *out) {
#if defined(OPENSSL_NO_DEPRECATED_3_0)
    unsigned int length = 0;
    EVP_MD_CTX *context = EVP_MD_CTX_new();
    int ok = context != NULL && EVP_DigestInit_ex(context, EVP_sha256(), NULL) == 1
        && EVP_DigestUpdate(context, a, a_len) == 1 && EVP_DigestUpdate(context, b, b_len) == 1
        && EVP_DigestFinal_ex(context, out, &length) == 1 && length == 32;
    EVP_MD_CTX_free(context);
    return ok;
#else
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    SHA256_CTX context;
    int ok = SHA256_Init(&context) == 1 && SHA256_Update(&context, a, a_len) == 1
        && SHA256_Update(&context, b, b_len) == 1 && SHA256_Final(out, &context) == 1;
    OPENSSL_cleanse(&context, sizeof context);
#pragma GCC diagnostic pop
    return ok;
#endif
}
#endif
