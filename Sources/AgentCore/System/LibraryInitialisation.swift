import CCurl
#if canImport(Glibc)
import Glibc
#endif

/// Settings that the C libraries read only at exec time, applied by re-executing the agent once
/// with them in its environment, then removing them again, so that programs the agent starts
/// (`credential_process`) see the environment they were given. A variable the operator has set
/// already is left as it is, and left in place.
///
/// - `GNUTLS_NO_IMPLICIT_INIT=1`: GnuTLS comes into the process only as a dependency of libcurl's
///   RTMP support (librtmp), which the agent never uses: its calls to AWS use OpenSSL, and RTMP is
///   not among the protocols it allows. Yet GnuTLS initialises itself in a library constructor,
///   before `main`, loading p11-kit and its modules: about 1.2 MiB of resident memory for nothing.
/// - `GLIBC_TUNABLES=glibc.malloc.tcache_count=64`: glibc keeps up to 7 freed blocks of each size
///   per thread for reuse without locking or searching its bins. An event loop has a request, its
///   buffers and its headers alive for every connection it serves at once, several times 7 blocks
///   of the same sizes, and the rest went through the slower bins: about 5,000 of 45,000
///   instructions per request with 50 connections. The blocks kept are memory the arena would
///   hold on to anyway.
enum LibraryInitialisation {
    static let settings: [(name: String, value: String)] = [
        ("GNUTLS_NO_IMPLICIT_INIT", "1"),
        ("GLIBC_TUNABLES", "glibc.malloc.tcache_count=64"),
    ]
    /// libcurl is loaded on first use (see CCurl's shim.h), and with it GnuTLS, which reads
    /// `GNUTLS_NO_IMPLICIT_INIT` as it loads. Outside local development mode the agent calls AWS,
    /// so libcurl is loaded here, while the variable is still set; in local mode it never is.
    private static func preloadCurlUnlessLocal() {
        let environment = SettingsEnvironment(variables: ProcessEnvironment.current())
        if environment.setting("LOCAL_DEVELOPMENT_DIRECTORY") == nil { _ = CCurl_load() }
    }

    /// Set for the re-executed process: the names of the variables to remove again.
    static let marker = "APPCONFIG_AGENT_REEXECUTED"

    /// Call first thing in `main`. Returns only when no re-exec is needed or it failed.
    static func skipUnusedLibraryInitialisation() {
        if let added = getenv(marker) {
            let names = String(cString: added).split(separator: ",").map(String.init)
            preloadCurlUnlessLocal()
            unsetenv(marker)
            for name in names where settings.contains(where: { $0.name == name }) { unsetenv(name) }
            return
        }
        let missing = settings.filter { getenv($0.name) == nil }
        guard !missing.isEmpty else {
            preloadCurlUnlessLocal()
            return
        }
        for setting in missing { setenv(setting.name, setting.value, 1) }
        setenv(marker, missing.map(\.name).joined(separator: ","), 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // exec failed (no /proc): go on as we are.
        preloadCurlUnlessLocal()
        unsetenv(marker)
        for setting in missing { unsetenv(setting.name) }
    }
}
