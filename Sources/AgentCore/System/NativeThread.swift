#if canImport(Glibc)
import Glibc
#endif

/// A plain POSIX thread for loops that must never run on Swift's concurrency pool (libevent, curl).
public final class NativeThread: Sendable {
    private let handle: pthread_t

    private final class Start {
        let body: @Sendable () -> Void
        init(body: @escaping @Sendable () -> Void) {
            self.body = body
        }
    }

    /// Starts `body` on a new thread; `name` appears in errors.
    public init(name: String, body: @escaping @Sendable () -> Void) throws(SystemError) {
        let start = Unmanaged.passRetained(Start(body: body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, nativeThreadEntry, start)
        guard result == 0 else {
            Unmanaged<Start>.fromOpaque(start).release()
            throw SystemError(call: "pthread_create(\(name))", errno: result)
        }
        handle = thread
    }

    /// Waits for the thread to finish.
    public func join() {
        pthread_join(handle, nil)
    }

    fileprivate static func run(_ context: UnsafeMutableRawPointer) {
        let start = Unmanaged<Start>.fromOpaque(context).takeRetainedValue()
        start.body()
    }
}

private func nativeThreadEntry(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    if let context { NativeThread.run(context) }
    return nil
}
