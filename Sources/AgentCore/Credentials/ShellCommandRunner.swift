import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command line through `/bin/sh -c`, capturing standard output, with a deadline.
///
/// For `credential_process`. The child gets `/dev/null` as standard input, inherits standard error (where
/// helpers explain their failures to the operator), starts with default signal dispositions and an empty
/// signal mask, and leads its own process group, so a timeout kills the shell and everything it started.
/// The blocking wait runs on a thread of its own, never on the Swift concurrency pool.
enum ShellCommandRunner {
    struct Output: Sendable, Equatable {
        /// The exit status, or nil when a signal ended the process.
        var exitStatus: Int32?
        var signal: Int32?
        var standardOutput: [UInt8]
    }

    enum Failure: Error, Equatable {
        case couldNotStart(String)
        case timedOut
        case outputTooLarge(Int)
    }

    static func run(_ command: String, environment: [String: String], timeout: Duration, outputLimit: Int = 1 << 20) async -> Result<Output, Failure> {
        // A thread of its own: waiting up to `timeout` on a pool thread would starve other tasks.
        let thread = Mutex<NativeThread?>(nil)
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Output, Failure>, Never>) in
            do {
                let started = try NativeThread(name: "credential_process") {
                    continuation.resume(returning: runBlocking(command, environment: environment, timeout: timeout, outputLimit: outputLimit))
                }
                thread.withLock { $0 = started }
            } catch {
                continuation.resume(returning: .failure(.couldNotStart("\(error)")))
            }
        }
        // The thread has resumed us and is returning; joining releases it at once.
        thread.withLock { $0 }?.join()
        return result
    }

    static func runBlocking(_ command: String, environment: [String: String], timeout: Duration, outputLimit: Int) -> Result<Output, Failure> {
        let deadline = WallClock.monotonic() + Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18

        // A socket pair rather than pipe(2): SOCK_CLOEXEC sets close-on-exec atomically (Glibc's Swift
        // module has no pipe2), so a child spawned at the same moment by another thread cannot inherit it.
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            return .failure(.couldNotStart("socketpair: \(String(cString: strerror(errno)))"))
        }
        let readFD = pair[0], writeFD = pair[1]
        shutdown(readFD, Int32(SHUT_WR))
        shutdown(writeFD, Int32(SHUT_RD))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeFD, 1)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let arguments: [String] = ["/bin/sh", "-c", command]
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        let envp: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") }
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = (argv + [nil]).withUnsafeBufferPointer { args -> Int32 in
            (envp + [nil]).withUnsafeBufferPointer { env -> Int32 in
                guard let args = args.baseAddress, let env = env.baseAddress else { return EINVAL }
                return posix_spawn(&pid, "/bin/sh", &actions, &attributes, args, env)
            }
        }
        close(writeFD)
        guard spawned == 0 else {
            close(readFD)
            return .failure(.couldNotStart("/bin/sh: \(String(cString: strerror(spawned)))"))
        }

        func remainingMilliseconds() -> Int32 {
            Int32(max(0, min(Double(Int32.max), (deadline - WallClock.monotonic()) * 1000)).rounded(.up))
        }
        func killGroup() {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
        }
        func reap() -> Int32 {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return status
        }

        // Read until end of file (every writer gone), the deadline, or too much output.
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        var failure: Failure?
        while true {
            let wait = remainingMilliseconds()
            if wait == 0 { failure = .timedOut; break }
            var poller = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, wait)
            if ready < 0 {
                if errno == EINTR { continue }
                failure = .couldNotStart("poll: \(String(cString: strerror(errno)))")
                break
            }
            if ready == 0 { failure = .timedOut; break }
            let count = chunk.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                failure = .couldNotStart("read: \(String(cString: strerror(errno)))")
                break
            }
            if count == 0 { break }
            output.append(contentsOf: chunk[..<count])
            if output.count > outputLimit { failure = .outputTooLarge(outputLimit); break }
        }
        close(readFD)
        if let failure {
            killGroup()
            _ = reap()
            return .failure(failure)
        }

        // Output is closed; the shell may still be finishing. Wait for it within the same deadline.
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { break }
            if result < 0 && errno != EINTR { break }
            if remainingMilliseconds() == 0 {
                killGroup()
                _ = reap()
                return .failure(.timedOut)
            }
            usleep(5000)
        }
        let termination = status & 0x7F
        if termination == 0 {
            return .success(Output(exitStatus: (status >> 8) & 0xFF, signal: nil, standardOutput: output))
        }
        return .success(Output(exitStatus: nil, signal: termination, standardOutput: output))
    }
}
