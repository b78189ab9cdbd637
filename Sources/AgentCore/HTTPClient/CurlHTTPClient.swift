import CCurl
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// Design: one pthread per client owns a libcurl multi handle and every easy handle; it is the only
// thread that calls libcurl, except `curl_multi_wakeup`, which libcurl documents as callable from any
// thread. Async callers put a request in a Mutex-protected queue, wake the loop and suspend on a
// continuation; the loop resumes them. No Swift concurrency thread ever waits on the network.
// Connections live in the multi handle's cache, so they are reused across requests.
// The loop admits at most `maxConnections` transfers into the multi handle at once and queues the
// rest itself: libcurl's timeout starts when a handle is added, so a request's `requestTimeout`
// counts from when it gets a connection slot, not from when it was queued.

/// libcurl loaded (see CCurl's shim.h) and `curl_global_init` called, once per process: a global
/// `let` is initialised exactly once, thread-safely. nil when that worked, else what failed.
private let curlUnavailable: HTTPClientError? = {
    if let problem = CCurl_load() { return .other(code: -1, String(cString: problem)) }
    let code = CCurl_global_init(CCurl_global_default())
    return code == CURLE_OK ? nil : .other(code: Int32(code.rawValue), "curl_global_init failed")
}()

/// An HTTP/1.1 and HTTP/2 client for calls to AWS, over libcurl, that never blocks the caller's thread.
///
/// Always: peer and host verification on, TLS 1.2 at least, only `http` and `https`, no redirects
/// followed, no signals. Proxy: `HTTPClientConfiguration.proxyURL`, or else libcurl's reading of
/// `https_proxy`/`HTTPS_PROXY`, `http_proxy`, `all_proxy` and `no_proxy`/`NO_PROXY` (see there).
public final class CurlHTTPClient: Sendable {
    public let configuration: HTTPClientConfiguration
    private let shared: CurlLoopShared

    public init(configuration: HTTPClientConfiguration = HTTPClientConfiguration()) throws(HTTPClientError) {
        if let curlUnavailable { throw curlUnavailable }
        guard configuration.maxConnections >= 1 else {
            throw .invalidConfiguration("maxConnections must be at least 1, got \(configuration.maxConnections)")
        }
        guard configuration.maxResponseBytes >= 1 else {
            throw .invalidConfiguration("maxResponseBytes must be at least 1, got \(configuration.maxResponseBytes)")
        }
        for header in configuration.proxyHeaders {
            if let problem = CurlTransfer.headerProblem(header) {
                throw .invalidConfiguration("proxy header: \(problem)")
            }
        }
        self.configuration = configuration

        guard let multi = CCurl_multi_init() else {
            throw .other(code: -1, "curl_multi_init failed")
        }
        let connections = configuration.maxConnections
        for option in [CURLMOPT_MAX_TOTAL_CONNECTIONS, CURLMOPT_MAX_HOST_CONNECTIONS, CURLMOPT_MAXCONNECTS] {
            let code = CCurl_multi_setopt_long(multi, option, connections)
            guard code == CURLM_OK else {
                CCurl_multi_cleanup(multi)
                throw .other(code: Int32(code.rawValue), "curl_multi_setopt: \(String(cString: CCurl_multi_strerror(code)))")
            }
        }

        let shared = CurlLoopShared(multi: multi)
        self.shared = shared
        let loop = CurlMultiLoop(multi: multi, shared: shared, configuration: configuration)
        let context = Unmanaged.passRetained(loop).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, curlLoopThreadMain, context)
        guard created == 0 else {
            Unmanaged<CurlMultiLoop>.fromOpaque(context).takeRetainedValue().shutDown(alsoFailing: [])
            throw .other(code: -1, "pthread_create: \(String(cString: strerror(created)))")
        }
        pthread_detach(thread)
    }

    deinit {
        shared.stop()
    }

    /// Sends `request` and returns the whole response. Any status is a response; network failures,
    /// timeouts, truncation, oversize bodies and cancellation of the calling task are errors.
    public func execute(_ request: HTTPClientRequest) async throws(HTTPClientError) -> HTTPClientResponse {
        let shared = self.shared
        let id = shared.register()
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                shared.submit(CurlSubmittedRequest(id: id, request: request, continuation: continuation))
            }
        } onCancel: {
            shared.cancel(id)
        }
        return try result.get()
    }

    /// Starts shutting down and returns at once: queued and running requests fail with `.shutDown`,
    /// later ones too. Idempotent; also done when the client is released.
    public func shutdown() {
        shared.stop()
    }

    /// Shuts down (as `shutdown()`) and returns once the loop thread has released libcurl's handles.
    public func shutdownAndWait() async {
        shared.stop()
        await shared.waitUntilStopped()
    }
}

private typealias CurlResult = Result<HTTPClientResponse, HTTPClientError>

private struct CurlSubmittedRequest: Sendable {
    let id: UInt64
    let request: HTTPClientRequest
    let continuation: CheckedContinuation<CurlResult, Never>
}

/// The multi handle as other threads see it: only ever passed to `curl_multi_wakeup`, which libcurl
/// documents as safe from any thread, and only under `CurlLoopShared`'s lock, which the loop takes to
/// clear it before `curl_multi_cleanup`. So no thread can use it after it is freed, and nothing else
/// is done with it off the loop thread: that is why `@unchecked Sendable` is safe here.
private struct CurlWakeupHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
}

/// What the callers' threads and the loop thread share, all behind one lock.
private final class CurlLoopShared: Sendable {
    struct State {
        /// Only for `curl_multi_wakeup`, under the lock; nil once the loop has freed it.
        var multi: CurlWakeupHandle?
        var nextID: UInt64 = 0
        /// Ids handed out whose request is not yet queued, and those of them already cancelled.
        var registered: Set<UInt64> = []
        var cancelledBeforeSubmit: Set<UInt64> = []
        /// Queued for the loop to start.
        var pending: [CurlSubmittedRequest] = []
        /// Queued or running: the loop owns their continuations.
        var inFlight: Set<UInt64> = []
        /// Running requests whose task was cancelled.
        var cancelRequests: [UInt64] = []
        var stopping = false
        var stopped = false
        var stopWaiters: [CheckedContinuation<Void, Never>] = []

        func wakeLoop() {
            if let multi { CCurl_multi_wakeup(multi.pointer) }
        }
    }

    struct Work: Sendable {
        var started: [CurlSubmittedRequest]
        var cancelled: [UInt64]
        var stopping: Bool
    }

    private let state: Mutex<State>

    init(multi: UnsafeMutableRawPointer) {
        state = Mutex(State(multi: CurlWakeupHandle(pointer: multi)))
    }

    func register() -> UInt64 {
        state.withLock {
            $0.nextID += 1
            $0.registered.insert($0.nextID)
            return $0.nextID
        }
    }

    func submit(_ submitted: CurlSubmittedRequest) {
        let refusal: HTTPClientError? = state.withLock { s in
            s.registered.remove(submitted.id)
            if s.cancelledBeforeSubmit.remove(submitted.id) != nil { return .cancelled }
            if s.stopping { return .shutDown }
            s.pending.append(submitted)
            s.inFlight.insert(submitted.id)
            s.wakeLoop()
            return nil
        }
        if let refusal { submitted.continuation.resume(returning: .failure(refusal)) }
    }

    func cancel(_ id: UInt64) {
        let dequeued: CurlSubmittedRequest? = state.withLock { s in
            if s.registered.contains(id) {
                s.cancelledBeforeSubmit.insert(id)
                return nil
            }
            if let index = s.pending.firstIndex(where: { $0.id == id }) {
                s.inFlight.remove(id)
                return s.pending.remove(at: index)
            }
            if s.inFlight.contains(id) {
                s.cancelRequests.append(id)
                s.wakeLoop()
            }
            return nil
        }
        dequeued?.continuation.resume(returning: .failure(.cancelled))
    }

    func stop() {
        state.withLock { s in
            guard !s.stopping else { return }
            s.stopping = true
            s.wakeLoop()
        }
    }

    func waitUntilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s in
                if s.stopped { return true }
                s.stopWaiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    // Loop side.

    func takeWork() -> Work {
        state.withLock { s in
            let work = Work(started: s.pending, cancelled: s.cancelRequests, stopping: s.stopping)
            s.pending = []
            s.cancelRequests = []
            return work
        }
    }

    /// Called by the loop before it resumes `id`'s continuation, so a late cancel finds nothing.
    func finished(_ id: UInt64) {
        state.withLock { _ = $0.inFlight.remove(id) }
    }

    /// The loop is about to free the multi handle: no more wake-ups. Returns what is left to fail.
    func markStopped() -> (leftovers: [CurlSubmittedRequest], waiters: [CheckedContinuation<Void, Never>]) {
        state.withLock { s in
            s.multi = nil
            s.stopped = true
            let result = (s.pending, s.stopWaiters)
            s.pending = []
            s.inFlight = []
            s.stopWaiters = []
            return result
        }
    }
}

/// Entry point of the loop thread: takes over the retained loop and runs it to the end.
private func curlLoopThreadMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    guard let context else { return nil }
    let loop = Unmanaged<CurlMultiLoop>.fromOpaque(context).takeRetainedValue()
    loop.run()
    return nil
}

/// Everything only the loop thread touches: the multi handle, the running transfers.
/// Created by `CurlHTTPClient.init` and handed over whole to the new thread, never used by its creator again.
private final class CurlMultiLoop {
    let multi: UnsafeMutableRawPointer
    let shared: CurlLoopShared
    let configuration: HTTPClientConfiguration
    /// Built once, shared by every easy handle (libcurl does not copy lists); freed after the multi handle.
    let proxyHeaderList: UnsafeMutablePointer<curl_slist>?
    var transfers: [UnsafeMutableRawPointer: CurlTransfer] = [:]
    var handleByID: [UInt64: UnsafeMutableRawPointer] = [:]
    /// Submitted, waiting for one of the `maxConnections` slots, oldest first.
    var queued: [CurlSubmittedRequest] = []

    init(multi: UnsafeMutableRawPointer, shared: CurlLoopShared, configuration: HTTPClientConfiguration) {
        self.multi = multi
        self.shared = shared
        self.configuration = configuration
        var list: UnsafeMutablePointer<curl_slist>?
        for header in configuration.proxyHeaders {
            list = CCurl_slist_append(list, CurlTransfer.headerLine(header))
        }
        proxyHeaderList = list
    }

    func run() {
        while true {
            let work = shared.takeWork()
            if work.stopping {
                shutDown(alsoFailing: work.started)
                return
            }
            queued += work.started
            for id in work.cancelled { cancel(id) }
            admit()

            var running: Int32 = 0
            let performed = CCurl_multi_perform(multi, &running)
            if performed != CURLM_OK {
                log.error("HTTP client: curl_multi_perform: \(String(cString: CCurl_multi_strerror(performed)))")
            }
            collectFinished()
            // Slots freed just now: a handle added here makes libcurl's next timeout immediate.
            admit()

            // curl_multi_poll caps the wait at libcurl's own next timeout, and wakes on curl_multi_wakeup.
            let polled = CCurl_multi_poll(multi, nil, 0, 5000, nil)
            if polled != CURLM_OK {
                log.error("HTTP client: curl_multi_poll: \(String(cString: CCurl_multi_strerror(polled)))")
                usleep(10_000) // never a hot loop
            }
        }
    }

    /// Starts queued requests while fewer than `maxConnections` run.
    private func admit() {
        var next = 0
        while transfers.count < configuration.maxConnections, next < queued.count {
            start(queued[next])
            next += 1
        }
        queued.removeFirst(next)
    }

    private func start(_ submitted: CurlSubmittedRequest) {
        switch CurlTransfer.make(submitted, configuration: configuration, proxyHeaders: proxyHeaderList) {
        case .failure(let error):
            shared.finished(submitted.id)
            submitted.continuation.resume(returning: .failure(error))
        case .success(let transfer):
            let added = CCurl_multi_add_handle(multi, transfer.easy)
            guard added == CURLM_OK else {
                transfer.release()
                shared.finished(submitted.id)
                let message = String(cString: CCurl_multi_strerror(added))
                submitted.continuation.resume(returning: .failure(.other(code: Int32(added.rawValue), message)))
                return
            }
            transfers[transfer.easy] = transfer
            handleByID[transfer.id] = transfer.easy
        }
    }

    private func cancel(_ id: UInt64) {
        if let index = queued.firstIndex(where: { $0.id == id }) {
            let submitted = queued.remove(at: index)
            shared.finished(id)
            submitted.continuation.resume(returning: .failure(.cancelled))
            return
        }
        guard let easy = handleByID[id] else { return } // already finished
        finish(easy, with: .failure(.cancelled))
    }

    private func collectFinished() {
        var remaining: Int32 = 0
        while let message = CCurl_multi_info_read(multi, &remaining) {
            // Copy out before removing the handle: the message is freed with it.
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            guard let transfer = transfers[easy] else { continue }
            finish(easy, with: transfer.outcome(code))
        }
    }

    /// Detaches and frees the transfer, then resumes its caller.
    private func finish(_ easy: UnsafeMutableRawPointer, with result: CurlResult) {
        guard let transfer = transfers.removeValue(forKey: easy) else { return }
        handleByID[transfer.id] = nil
        CCurl_multi_remove_handle(multi, easy)
        transfer.release()
        shared.finished(transfer.id)
        transfer.continuation.resume(returning: result)
    }

    /// Fails everything, frees the multi handle; the loop must not run afterwards.
    func shutDown(alsoFailing started: [CurlSubmittedRequest]) {
        for easy in Array(transfers.keys) { finish(easy, with: .failure(.shutDown)) }
        let (leftovers, waiters) = shared.markStopped()
        for submitted in queued + started + leftovers {
            submitted.continuation.resume(returning: .failure(.shutDown))
        }
        CCurl_multi_cleanup(multi)
        CCurl_slist_free_all(proxyHeaderList)
        for waiter in waiters { waiter.resume() }
    }
}

/// One request's easy handle and what has arrived so far. Lives on the loop thread only; libcurl's
/// callbacks reach it through an unretained pointer, valid because the loop keeps it in `transfers`
/// until after `curl_easy_cleanup`.
private final class CurlTransfer {
    let id: UInt64
    let easy: UnsafeMutableRawPointer
    let continuation: CheckedContinuation<CurlResult, Never>
    let maxResponseBytes: Int
    private var headerList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer: UnsafeMutablePointer<CChar>

    private var headers: [HTTPHeader] = []
    private var headerBytes = 0
    private var sawStatusLine = false
    private var body: [UInt8] = []
    private var exceededLimit: Int?
    private var released = false

    /// Bound on the whole response header section: upstream libcurl before 8.3 had no total limit
    /// (CVE-2023-38039), and we do not rely on the distribution having patched it.
    static let maxHeaderBytes = 256 << 10

    private init(id: UInt64, easy: UnsafeMutableRawPointer, continuation: CheckedContinuation<CurlResult, Never>, maxResponseBytes: Int) {
        self.id = id
        self.easy = easy
        self.continuation = continuation
        self.maxResponseBytes = maxResponseBytes
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        release()
        errorBuffer.deallocate()
    }

    /// Frees the easy handle and its header list; the multi handle must no longer hold it.
    func release() {
        guard !released else { return }
        released = true
        CCurl_easy_cleanup(easy)
        CCurl_slist_free_all(headerList)
        headerList = nil
    }

    // MARK: Building

    static func make(
        _ submitted: CurlSubmittedRequest,
        configuration: HTTPClientConfiguration,
        proxyHeaders: UnsafeMutablePointer<curl_slist>?
    ) -> Result<CurlTransfer, HTTPClientError> {
        let request = submitted.request
        if let problem = methodProblem(request.method) { return .failure(.invalidRequest(problem)) }
        for header in request.headers {
            if let problem = headerProblem(header) { return .failure(.invalidRequest(problem)) }
        }
        guard let easy = CCurl_easy_init() else { return .failure(.other(code: -1, "curl_easy_init failed")) }
        let transfer = CurlTransfer(id: submitted.id, easy: easy, continuation: submitted.continuation,
                                    maxResponseBytes: configuration.maxResponseBytes)
        do {
            try transfer.configure(request, configuration, proxyHeaders)
            return .success(transfer)
        } catch {
            transfer.release()
            return .failure(error)
        }
    }

    private func configure(
        _ request: HTTPClientRequest,
        _ configuration: HTTPClientConfiguration,
        _ proxyHeaders: UnsafeMutablePointer<curl_slist>?
    ) throws(HTTPClientError) {
        func check(_ code: CURLcode, _ what: String) throws(HTTPClientError) {
            guard code == CURLE_OK else {
                throw .other(code: Int32(code.rawValue), "\(what): \(String(cString: CCurl_easy_strerror(code)))")
            }
        }
        func long(_ option: CURLoption, _ value: Int, _ what: String) throws(HTTPClientError) {
            try check(CCurl_setopt_long(easy, option, value), what)
        }

        try check(CCurl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer), "error buffer")
        try check(CCurl_setopt_string(easy, CURLOPT_URL, request.url), "URL")

        // Security defaults, not configurable.
        try check(CCurl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"), "protocols")
        try check(CCurl_setopt_string(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"), "redirect protocols")
        try long(CURLOPT_FOLLOWLOCATION, 0, "redirects")
        try long(CURLOPT_NOSIGNAL, 1, "signals")
        try long(CURLOPT_SSL_VERIFYPEER, 1, "peer verification")
        try long(CURLOPT_SSL_VERIFYHOST, 2, "host verification")
        try long(CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2, "TLS version")
        try long(CURLOPT_PROXY_SSL_VERIFYPEER, 1, "proxy peer verification")
        try long(CURLOPT_PROXY_SSL_VERIFYHOST, 2, "proxy host verification")
        try long(CURLOPT_PROXY_SSLVERSION, CURL_SSLVERSION_TLSv1_2, "proxy TLS version")

        try long(CURLOPT_TIMEOUT_MS, (request.timeout ?? configuration.requestTimeout).curlMilliseconds, "timeout")
        try long(CURLOPT_CONNECTTIMEOUT_MS, configuration.connectTimeout.curlMilliseconds, "connect timeout")
        try long(CURLOPT_TCP_KEEPALIVE, 1, "keep-alive")
        try check(CCurl_setopt_off_t(easy, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(configuration.maxResponseBytes)), "size limit")

        if let caBundle = configuration.caBundle {
            try check(CCurl_setopt_string(easy, CURLOPT_CAINFO, caBundle), "CA bundle")
            try check(CCurl_setopt_string(easy, CURLOPT_PROXY_CAINFO, caBundle), "proxy CA bundle")
        }
        // No proxyURL: libcurl reads the proxy environment variables itself, for each transfer;
        // an empty CURLOPT_PROXY turns that off.
        if let proxyURL = configuration.proxyURL {
            try check(CCurl_setopt_string(easy, CURLOPT_PROXY, proxyURL), "proxy")
        } else if !configuration.useEnvironmentProxy {
            try check(CCurl_setopt_string(easy, CURLOPT_PROXY, ""), "proxy")
        }
        try long(CURLOPT_HEADEROPT, CCurl_header_separate(), "header separation")
        try check(CCurl_setopt_slist(easy, CURLOPT_PROXYHEADER, proxyHeaders), "proxy headers")
        // The proxy's answer to CONNECT is not part of the response.
        try long(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1, "CONNECT headers")

        // Method and body. COPYPOSTFIELDS copies, so the caller's bytes need not outlive this call.
        let method = request.method
        let sendsBody = !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(method)
        if sendsBody {
            try check(CCurl_setopt_off_t(easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)), "body size")
            let copied = request.body.withUnsafeBytes { bytes -> CURLcode in
                if let base = bytes.baseAddress {
                    return CCurl_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: base))
                }
                return CCurl_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, "")
            }
            try check(copied, "body")
            if method != "POST" {
                try check(CCurl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method), "method")
            }
        } else if method == "GET" {
            try long(CURLOPT_HTTPGET, 1, "method")
        } else if method == "HEAD" {
            try long(CURLOPT_NOBODY, 1, "method")
        } else {
            try check(CCurl_setopt_string(easy, CURLOPT_CUSTOMREQUEST, method), "method")
        }

        // Exactly the caller's headers: an empty `Name:` line stops libcurl adding its own.
        var list: UnsafeMutablePointer<curl_slist>?
        for header in request.headers {
            list = CCurl_slist_append(list, CurlTransfer.headerLine(header))
        }
        func callerSets(_ name: String) -> Bool {
            request.headers.contains { HTTPClientResponse.namesMatch($0.name, name) }
        }
        for name in ["Accept", "Expect"] where !callerSets(name) {
            list = CCurl_slist_append(list, "\(name):")
        }
        if sendsBody && !callerSets("Content-Type") {
            list = CCurl_slist_append(list, "Content-Type:") // else x-www-form-urlencoded
        }
        headerList = list
        try check(CCurl_setopt_slist(easy, CURLOPT_HTTPHEADER, list), "headers")

        let context = Unmanaged.passUnretained(self).toOpaque()
        try check(CCurl_setopt_write_callback(easy, curlWriteCallback), "write callback")
        try check(CCurl_setopt_pointer(easy, CURLOPT_WRITEDATA, context), "write data")
        try check(CCurl_setopt_header_callback(easy, curlHeaderCallback), "header callback")
        try check(CCurl_setopt_pointer(easy, CURLOPT_HEADERDATA, context), "header data")
    }

    /// `Name: value`, or `Name;` for an empty value (libcurl's spelling; `Name:` would remove the header).
    static func headerLine(_ header: HTTPHeader) -> String {
        header.value.isEmpty ? "\(header.name);" : "\(header.name): \(header.value)"
    }

    static func headerProblem(_ header: HTTPHeader) -> String? {
        guard !header.name.isEmpty, header.name.utf8.allSatisfy(isTokenByte) else {
            return "header name is not an HTTP token"
        }
        guard !header.value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else {
            return "header \(header.name) contains CR, LF or NUL"
        }
        return nil
    }

    static func methodProblem(_ method: String) -> String? {
        !method.isEmpty && method.utf8.allSatisfy(isTokenByte) ? nil : "method is not an HTTP token"
    }

    private static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "!#$%&'*+-.^_`|~".utf8.contains(c)
        }
    }

    // MARK: Receiving (libcurl callbacks, on the loop thread)

    /// Returns the bytes taken; anything else makes libcurl abort with CURLE_WRITE_ERROR.
    func receiveBody(_ data: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
        guard count > 0 else { return 0 }
        guard let data else { return 0 }
        guard body.count + count <= maxResponseBytes else {
            exceededLimit = maxResponseBytes
            return 0
        }
        if body.isEmpty {
            var expected: curl_off_t = -1
            if CCurl_getinfo_off_t(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &expected) == CURLE_OK, expected > 0 {
                body.reserveCapacity(min(Int(expected), maxResponseBytes))
            }
        }
        data.withMemoryRebound(to: UInt8.self, capacity: count) {
            body.append(contentsOf: UnsafeBufferPointer(start: $0, count: count))
        }
        return count
    }

    func receiveHeader(_ data: UnsafeMutablePointer<CChar>?, _ count: Int) -> Int {
        guard let data else { return 0 }
        headerBytes += count
        guard headerBytes <= CurlTransfer.maxHeaderBytes else {
            exceededLimit = CurlTransfer.maxHeaderBytes
            return 0
        }
        var line = data.withMemoryRebound(to: UInt8.self, capacity: count) {
            Array(UnsafeBufferPointer(start: $0, count: count))
        }
        while let last = line.last, last == 0x0A || last == 0x0D { line.removeLast() }
        if line.starts(with: "HTTP/".utf8) {
            // A new response (after a 1xx, or the final one): start over.
            headers = []
            sawStatusLine = true
        } else if line.isEmpty {
            // End of a header section.
        } else if line[0] == 0x20 || line[0] == 0x09 {
            // Obsolete line folding: continues the previous value.
            if !headers.isEmpty {
                headers[headers.count - 1].value += " " + String(decoding: trimmed(line[...]), as: UTF8.self)
            }
        } else if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            let name = String(decoding: line[..<colon], as: UTF8.self)
            let value = String(decoding: trimmed(line[(colon + 1)...]), as: UTF8.self)
            headers.append(HTTPHeader(name: name, value: value))
        }
        return count
    }

    private func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == 0x20 || first == 0x09 { slice.removeFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice.removeLast() }
        return slice
    }

    // MARK: Outcome

    func outcome(_ code: CURLcode) -> CurlResult {
        if code == CURLE_OK {
            var status = 0
            _ = CCurl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
            return .success(HTTPClientResponse(status: status, headers: headers, body: body))
        }
        return .failure(error(for: code))
    }

    private func error(for code: CURLcode) -> HTTPClientError {
        let message = errorMessage(code)
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return .timedOut
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return .resolve(message)
        case CURLE_COULDNT_CONNECT:
            return .connectionFailed(message)
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_CRL_BADFILE, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
             CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
             CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_SHUTDOWN_FAILED, CURLE_USE_SSL_FAILED, CURLE_SSL_CLIENTCERT:
            return .tls(message)
        case CURLE_PARTIAL_FILE:
            return .truncated(message)
        case CURLE_FILESIZE_EXCEEDED:
            return .tooLarge(limit: maxResponseBytes)
        case CURLE_WRITE_ERROR where exceededLimit != nil:
            return .tooLarge(limit: exceededLimit ?? maxResponseBytes)
        case CURLE_GOT_NOTHING:
            return .connectionFailed("server closed the connection without a response")
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            var connectCode = 0
            _ = CCurl_getinfo_long(easy, CURLINFO_HTTP_CONNECTCODE, &connectCode)
            if connectCode != 0 && connectCode != 200 {
                return .connectionFailed("proxy answered CONNECT with \(connectCode)")
            }
            return sawStatusLine ? .truncated(message) : .connectionFailed(message)
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return .invalidRequest(message)
        default:
            return .other(code: Int32(code.rawValue), message)
        }
    }

    /// libcurl's detail line when there is one (it names hosts and ports, never URLs' paths or
    /// credentials), else the generic text for the code; at most 200 characters.
    private func errorMessage(_ code: CURLcode) -> String {
        var text = String(cString: errorBuffer)
        while let last = text.last, last.isNewline { text.removeLast() }
        if text.isEmpty { text = String(cString: CCurl_easy_strerror(code)) }
        return String(text.prefix(200))
    }
}

private func curlWriteCallback(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context else { return 0 }
    return Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue().receiveBody(data, size * count)
}

private func curlHeaderCallback(_ data: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ context: UnsafeMutableRawPointer?) -> Int {
    guard let context else { return 0 }
    return Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue().receiveHeader(data, size * count)
}
