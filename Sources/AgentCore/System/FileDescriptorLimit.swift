#if canImport(Glibc)
import Glibc
#endif

/// `RLIMIT_NOFILE`, the most descriptors the process may have open. Every client connection takes
/// one; systemd and most shells give a soft limit of 1024, below what MAX_CONNECTIONS allows with
/// the agent's own files and sockets added.
enum FileDescriptorLimit {
    /// Raises the soft limit to the hard one (allowed without privileges) and returns the soft
    /// limit in force, or nil when it cannot be read. A refused raise (a seccomp filter) is logged
    /// at debug level and leaves the limit as it was.
    @discardableResult
    static func raiseToHardLimit() -> UInt64? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            let before = limit.rlim_cur
            limit.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
                log.debug("open-file limit raised from \(before) to \(limit.rlim_max)")
            } else {
                log.debug("open-file limit stays \(before): \(SystemError(call: "setrlimit(RLIMIT_NOFILE)", errno: errno))")
                limit.rlim_cur = before
            }
        }
        return UInt64(limit.rlim_cur)
    }

    /// Descriptors the agent needs besides client connections: listeners, event-loop pipes, calls
    /// to AWS, files being written, log file.
    static let reserve: UInt64 = 64
}
