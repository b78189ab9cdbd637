#if canImport(Glibc)
import Glibc
#endif

/// GnuTLS comes into the process only as a dependency of libcurl's RTMP support (librtmp), which the
/// agent never uses: its calls to AWS use OpenSSL, and RTMP is not among the protocols it allows.
/// Yet GnuTLS initialises itself in a library constructor, before `main`, loading p11-kit and its
/// modules: about 1.2 MiB of resident memory for nothing. GnuTLS skips that when
/// `GNUTLS_NO_IMPLICIT_INIT` is set at exec time, so the agent re-executes itself once with it set,
/// then removes it again, so that programs the agent starts (`credential_process`) see the
/// environment they were given.
enum LibraryInitialisation {
    static let gnutlsVariable = "GNUTLS_NO_IMPLICIT_INIT"
    static let marker = "APPCONFIG_AGENT_REEXECUTED"

    /// Call first thing in `main`. Returns only when no re-exec is needed or it failed.
    static func skipUnusedLibraryInitialisation() {
        if getenv(marker) != nil {
            unsetenv(marker)
            unsetenv(gnutlsVariable)
            return
        }
        // Already set by the operator: nothing to gain, and nothing of theirs to remove later.
        guard getenv(gnutlsVariable) == nil else { return }
        setenv(gnutlsVariable, "1", 1)
        setenv(marker, "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed (no /proc): go on as we are.
        unsetenv(marker)
        unsetenv(gnutlsVariable)
    }
}
