import CLibEvent
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One libevent event base with its evhttp, run on one thread.
///
/// `@unchecked Sendable`: the mutable state (`knownConnections`, `boundSockets`) is only touched on
/// the loop's own thread: from evhttp callbacks, or from closures handed over with `runOnLoop`, which
/// uses `event_base_once` (thread-safe once `evthread_use_pthreads` is on). The pointers themselves
/// are set in `init` and cleared only in `free()`, after the thread has been joined.
final class EventLoop: @unchecked Sendable {
    private var base: OpaquePointer?
    private var http: OpaquePointer?
    private let router: Router
    private let configuration: HTTPServerConfiguration
    private let connections: ConnectionBudget
    private var boundSockets: [OpaquePointer] = []
    private var knownConnections: Set<OpaquePointer> = []
    /// Requests waiting for a configuration's first load, by connection: a connection that closes
    /// takes its requests with it, and a late answer must not touch them.
    private var waiting: [OpaquePointer: Set<OpaquePointer>] = [:]
    /// Long polls by configuration and id: each holds the ETag its client has.
    private var changeWaiters: [ConfigurationKey: [Int: ChangeWaiter]] = [:]
    /// The long poll a parked request is, so that a closing connection finds its own in O(1).
    private var changeWaiterOfRequest: [OpaquePointer: (key: ConfigurationKey, id: Int)] = [:]
    private var nextWaiterId = 0
    /// When the request being handled now arrived (loop thread only); waiting requests are timed
    /// from when they are answered, so their latency is the handler's, not the wait's.
    private var requestStarted = 0.0
    private var thread: NativeThread?

    init(configuration: HTTPServerConfiguration, router: Router, connections: ConnectionBudget) throws(SystemError) {
        guard let base = Self.makeBase() else { throw SystemError(call: "event_base_new", errno: ENOMEM) }
        guard let http = evhttp_new(base) else {
            event_base_free(base)
            throw SystemError(call: "evhttp_new", errno: ENOMEM)
        }
        self.base = base
        self.http = http
        self.router = router
        self.configuration = configuration
        self.connections = connections
        evhttp_set_timeout(http, Int32(configuration.clientTimeoutSeconds))
        evhttp_set_max_headers_size(http, configuration.hardHeaderCap)
        evhttp_set_max_body_size(http, 64 * 1024)
        // Accept every method evhttp knows, so that we answer 405 with Allow, not evhttp's 501.
        let all = EVHTTP_REQ_GET.rawValue | EVHTTP_REQ_POST.rawValue | EVHTTP_REQ_HEAD.rawValue
            | EVHTTP_REQ_PUT.rawValue | EVHTTP_REQ_DELETE.rawValue | EVHTTP_REQ_OPTIONS.rawValue
            | EVHTTP_REQ_TRACE.rawValue | EVHTTP_REQ_CONNECT.rawValue | EVHTTP_REQ_PATCH.rawValue
        evhttp_set_allowed_methods(http, UInt16(all))
        evhttp_set_default_content_type(http, "application/octet-stream")
        evhttp_set_gencb(http, eventLoopHandleRequest, Unmanaged.passUnretained(self).toOpaque())
        Self.byHTTP.withLock { $0[UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(http)))] = self }
    }

    /// Every loop by its evhttp: a listener's error callback receives only the evhttp.
    private static let byHTTP = Mutex<[UInt: EventLoop]>([:])

    fileprivate static func loop(of http: UnsafeMutableRawPointer) -> EventLoop? {
        byHTTP.withLock { $0[UInt(bitPattern: Int(bitPattern: http))] }
    }

    /// An event base whose epoll backend batches its interest changes: evhttp turns reading off
    /// and on again and adds writing for every request, and with the change list these reach the
    /// kernel as one `epoll_ctl` when the loop next waits, not three. (libevent's caveat about the
    /// change list concerns file descriptors copied with `dup`, which the server never makes.)
    private static func makeBase() -> OpaquePointer? {
        guard let config = event_config_new() else { return event_base_new() }
        defer { event_config_free(config) }
        _ = event_config_set_flag(config, Int32(EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST.rawValue))
        return event_base_new_with_config(config)
    }

    func accept(fd: Int32) throws(SystemError) {
        guard let http, let handle = evhttp_accept_socket_with_handle(http, fd) else {
            close(fd)
            throw SystemError(call: "evhttp_accept_socket", errno: errno)
        }
        if let listener = evhttp_bound_socket_get_listener(handle) {
            evconnlistener_set_error_cb(listener, eventLoopAcceptFailed)
        }
        boundSockets.append(handle)
    }

    /// How long a listener rests after `accept` failed for want of descriptors or memory.
    static let acceptPauseMilliseconds = 100
    /// When a paused listener was last logged (loop thread only): at most one warning a minute.
    private var acceptWarnedAt = -Double.infinity

    /// `accept` failed other than by a retriable error (EMFILE when every descriptor is in use,
    /// ENFILE, ENOBUFS, ENOMEM). libevent would log and retry at once, spinning the loop while the
    /// condition lasts; instead the listener rests for a moment. Pending connections wait in the
    /// kernel's backlog and are accepted once descriptors are free again; connections already
    /// open are served meanwhile.
    fileprivate func acceptFailed(_ listener: OpaquePointer, errno code: Int32) {
        evconnlistener_disable(listener)
        let now = WallClock.monotonic()
        if now - acceptWarnedAt >= 60 {
            acceptWarnedAt = now
            log.warn("cannot accept client connections: \(SystemError(call: "accept", errno: code)); retrying every \(Self.acceptPauseMilliseconds) ms (see LimitNOFILE=, ulimit -n and MAX_CLIENT_CONNECTIONS)")
        }
        let paused = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(listener)))
        runOnLoop(afterMilliseconds: Self.acceptPauseMilliseconds) { loop in
            // Found again among the bound sockets: one closed meanwhile (shutdown) has been freed.
            for socket in loop.boundSockets {
                guard let listener = evhttp_bound_socket_get_listener(socket),
                      UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(listener))) == paused else { continue }
                evconnlistener_enable(listener)
            }
        }
    }

    func start() throws(SystemError) {
        let unmanaged = Unmanaged.passRetained(self)
        thread = try NativeThread(name: "http-loop") {
            let loop = unmanaged.takeRetainedValue()
            if let base = loop.base { event_base_dispatch(base) }
        }
    }

    func join() { thread?.join() }

    /// Runs `body` on the loop's thread at its next turn, or after a delay.
    func runOnLoop(afterMilliseconds milliseconds: Int = 0, _ body: @escaping @Sendable (EventLoop) -> Void) {
        guard let base else { return }
        let task = Unmanaged.passRetained(LoopTask(loop: self, body: body)).toOpaque()
        var now = timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000)
        if event_base_once(base, -1, Int16(EV_TIMEOUT), eventLoopRunTask, task, &now) != 0 {
            Unmanaged<LoopTask>.fromOpaque(task).release()
        }
    }

    func closeListeners() {
        guard let http else { return }
        for socket in boundSockets { evhttp_del_accept_socket(http, socket) }
        boundSockets.removeAll()
    }

    func exit(afterMilliseconds milliseconds: Int) {
        guard let base else { return }
        var delay = timeval(tv_sec: milliseconds / 1000, tv_usec: Int((milliseconds % 1000) * 1000))
        event_base_loopexit(base, &delay)
    }

    /// Frees libevent's objects; only after the thread has ended (or was never started).
    func free() {
        if let http {
            Self.byHTTP.withLock { _ = $0.removeValue(forKey: UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(http)))) }
            evhttp_free(http)
        }
        if let base { event_base_free(base) }
        http = nil
        base = nil
        for _ in knownConnections { connections.release() }
        knownConnections.removeAll()
    }

    // MARK: - Requests

    fileprivate func handle(_ request: OpaquePointer) {
        requestStarted = WallClock.monotonic()
        if let connection = evhttp_request_get_connection(request), !knownConnections.contains(connection) {
            guard connections.tryAcquire() else {
                send(RouteResponse.error(503, "too many client connections"), to: request, close: true)
                return
            }
            knownConnections.insert(connection)
            evhttp_connection_set_closecb(connection, eventLoopConnectionClosed, Unmanaged.passUnretained(self).toOpaque())
        }
        guard let uri = evhttp_request_get_uri(request) else {
            send(.error(400, "bad request"), to: request, close: true)
            return
        }
        if strlen(uri) > configuration.maxTargetBytes {
            send(.error(414, "request target longer than \(configuration.maxTargetBytes) bytes"), to: request, close: true)
            return
        }
        let inputHeaders = evhttp_request_get_input_headers(request)
        if let inputHeaders, headerBytes(inputHeaders) > configuration.maxHeaderBytes {
            send(.error(431, "request headers larger than \(configuration.maxHeaderBytes) bytes"), to: request, close: true)
            return
        }
        let method = Self.method(evhttp_request_get_command(request))
        let routed = LibeventRequest(
            method: method,
            target: String(cString: uri),
            headers: inputHeaders
        )
        switch router.handle(routed) {
        case .response(let response):
            send(response, to: request, close: false, head: method == .head)
        case .awaitFirstLoad(let key):
            guard let connection = evhttp_request_get_connection(request), let loader = router.loader else {
                send(router.route(routed), to: request, close: false, head: method == .head)
                return
            }
            waiting[connection, default: []].insert(request)
            let handles = WaitingRequest(request: request, connection: connection)
            loader.load(key) { [weak self] outcome in
                self?.runOnLoop { loop in loop.finishWaiting(handles, outcome: outcome) }
            }
        case .awaitChange(let key, let etag, let wait):
            guard let connection = evhttp_request_get_connection(request), let base else {
                send(router.route(routed), to: request, close: false, head: method == .head)
                return
            }
            // Counted first, then checked against the store: a version stored before the count went
            // up is seen here, and one stored after finds the count above zero and wakes this loop
            // (`HTTPServer.configurationsChanged`; the store's lock orders the two). The ETag is
            // compared, not the version: a reused version label with new content is a change too.
            changeWaiterCount.add(1, ordering: .relaxed)
            guard let current = router.store.payload(for: key), current.etag == etag else {
                changeWaiterCount.subtract(1, ordering: .relaxed)
                send(router.route(routed), to: request, close: false, head: method == .head)
                return
            }
            let id = nextWaiterId
            nextWaiterId += 1
            let expiry = Unmanaged.passRetained(WaitExpiry(loop: self, key: key, id: id)).toOpaque()
            guard let timer = event_new(base, -1, 0, eventLoopWaitExpired, expiry) else {
                Unmanaged<WaitExpiry>.fromOpaque(expiry).release()
                changeWaiterCount.subtract(1, ordering: .relaxed)
                send(RouteResponse(status: 304, payload: current), to: request, close: false, head: method == .head)
                return
            }
            let (seconds, attoseconds) = wait.components
            var delay = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
            event_add(timer, &delay)
            waiting[connection, default: []].insert(request)
            changeWaiters[key, default: [:]][id] = ChangeWaiter(
                handles: WaitingRequest(request: request, connection: connection), etag: current.etag,
                timer: timer, expiry: expiry)
            changeWaiterOfRequest[request] = (key, id)
            AgentMetrics.shared.longPollWaiters.increment()
        }
    }

    /// Long polls still waiting, across this loop (for metrics and the store observer's fast path).
    let changeWaiterCount = Atomic<Int>(0)

    /// After a store change: answers every long poll whose configuration now has another ETag (or
    /// is gone). Compares with the store's latest snapshot, not the one that announced the change:
    /// announcements may run in any order, and a waiter may be newer than the one announced.
    /// Called on the loop thread.
    func configurationsChanged() {
        let snapshot = router.store.snapshot()
        for key in Array(changeWaiters.keys) {
            let current = snapshot[key]?.etag
            guard let waiters = changeWaiters[key] else { continue }
            for (id, waiter) in waiters where waiter.etag != current { finishChangeWaiter(key: key, id: id) }
        }
    }

    /// Ends one long poll: a new version if there is one, else 304 (or 404 if the configuration went away).
    fileprivate func finishChangeWaiter(key: ConfigurationKey, id: Int) {
        guard let waiter = removeChangeWaiter(key: key, id: id) else { return }
        answerWaiting(waiter.handles) { router.route($0) }
    }

    /// Forgets one long poll and frees its timer; the request itself is left to the caller.
    private func removeChangeWaiter(key: ConfigurationKey, id: Int) -> ChangeWaiter? {
        guard let waiter = changeWaiters[key]?.removeValue(forKey: id) else { return nil }
        if changeWaiters[key]?.isEmpty == true { changeWaiters.removeValue(forKey: key) }
        changeWaiterOfRequest.removeValue(forKey: waiter.handles.request)
        event_free(waiter.timer)
        Unmanaged<WaitExpiry>.fromOpaque(waiter.expiry).release()
        changeWaiterCount.subtract(1, ordering: .relaxed)
        AgentMetrics.shared.longPollWaiters.decrement()
        return waiter
    }

    /// Answers a request that waited for its configuration, if its connection is still there.
    private func finishWaiting(_ handles: WaitingRequest, outcome: FirstLoadOutcome) {
        answerWaiting(handles) { router.handle($0, after: outcome) }
    }

    /// Answers a parked request (lazy load or long poll) with `respond`, unless its connection
    /// has closed meanwhile, which took the request with it.
    private func answerWaiting(_ handles: WaitingRequest, _ respond: (LibeventRequest) -> RouteResponse) {
        requestStarted = WallClock.monotonic()
        guard waiting[handles.connection]?.remove(handles.request) != nil else { return }
        if waiting[handles.connection]?.isEmpty == true { waiting.removeValue(forKey: handles.connection) }
        guard let uri = evhttp_request_get_uri(handles.request) else { return }
        let method = Self.method(evhttp_request_get_command(handles.request))
        let routed = LibeventRequest(method: method, target: String(cString: uri),
                                     headers: evhttp_request_get_input_headers(handles.request))
        send(respond(routed), to: handles.request, close: false, head: method == .head)
    }

    fileprivate func connectionClosed(_ connection: OpaquePointer) {
        for request in waiting.removeValue(forKey: connection) ?? [] {
            if let (key, id) = changeWaiterOfRequest[request] { _ = removeChangeWaiter(key: key, id: id) }
        }
        if knownConnections.remove(connection) != nil { connections.release() }
    }

    private func headerBytes(_ headers: UnsafeMutablePointer<evkeyvalq>) -> Int {
        var total = 0
        var header = CLibEvent_headers_first(headers)
        while let current = header {
            total += strlen(current.pointee.key) + strlen(current.pointee.value) + 4
            header = CLibEvent_headers_next(current)
        }
        return total
    }

    private func send(_ response: RouteResponse, to request: OpaquePointer, close: Bool, head: Bool = false) {
        let elapsed = WallClock.monotonic() - requestStarted
        AgentMetrics.shared.http.record(route: Self.routeLabel(evhttp_request_get_uri(request)), status: response.status,
                                        seconds: max(0, elapsed))
        guard let headers = evhttp_request_get_output_headers(request),
              let body = evhttp_request_get_output_buffer(request) else { return }
        if let contentType = response.contentType {
            // An answer derived from the payload (evaluated flags) has its own type.
            evhttp_add_header(headers, "Content-Type", contentType)
        } else if let payload = response.payload {
            _ = payload.contentTypeC.withUnsafeBufferPointer { evhttp_add_header(headers, "Content-Type", $0.baseAddress) }
        }
        if let payload = response.payload {
            _ = payload.versionC.withUnsafeBufferPointer { evhttp_add_header(headers, "Configuration-Version", $0.baseAddress) }
            _ = payload.versionLabelC?.withUnsafeBufferPointer { evhttp_add_header(headers, "Version-Label", $0.baseAddress) }
            _ = payload.etagC.withUnsafeBufferPointer { evhttp_add_header(headers, "ETag", $0.baseAddress) }
        }
        for header in response.headers { evhttp_add_header(headers, header.name, header.value) }
        if close { evhttp_add_header(headers, "Connection", "close") }
        // HTTP/1.1 answers carry Date and Content-Length. evhttp would add them itself, formatting
        // each with snprintf per request; added here, the date is formatted once a second.
        // (Unless the router set them, which it does not today: evhttp would then leave them be.)
        let http11 = CLibEvent_request_http1_minor(request) >= 1
            && !response.headers.contains { Self.isDateOrLength($0.name) }
        if head {
            // evhttp sends no body and no length for HEAD; give the length the GET would have.
            Self.addContentLength(response.body.count, to: headers)
            if http11 { addDate(to: headers) }
            evhttp_send_reply(request, Int32(response.status), HTTPStatus.reason(response.status), nil)
            return
        }
        switch response.body {
        case .empty:
            break
        case .bytes(let bytes):
            bytes.withUnsafeBytes { _ = evbuffer_add(body, $0.baseAddress, $0.count) }
        case .payload(let payload):
            // libevent references the cached bytes (no copy) and releases our retain when sent.
            if payload.count > 0 {
                let retained = Unmanaged.passRetained(payload).toOpaque()
                if evbuffer_add_reference(body, payload.bytes.baseAddress, payload.count, eventLoopReleasePayload, retained) != 0 {
                    Unmanaged<ConfigurationPayload>.fromOpaque(retained).release()
                }
            }
        }
        if http11 {
            addDate(to: headers)
            // As evhttp does: no length where the status has no body (1xx, 204, 304).
            let status = response.status
            if status >= 200, status != 204, status != 304 { Self.addContentLength(evbuffer_get_length(body), to: headers) }
        }
        evhttp_send_reply(request, Int32(response.status), HTTPStatus.reason(response.status), nil)
    }

    /// The `Date` value (RFC 9110 IMF-fixdate, as evhttp writes it) of the second `dateSecond`,
    /// NUL-terminated; loop thread only.
    private var dateValue = [CChar](repeating: 0, count: 30)
    private var dateSecond = -1

    private func addDate(to headers: UnsafeMutablePointer<evkeyvalq>) {
        let now = time(nil)
        if now != dateSecond {
            dateSecond = now
            var t = now
            var parts = tm()
            gmtime_r(&t, &parts)
            Self.formatDate(parts, into: &dateValue)
        }
        _ = dateValue.withUnsafeBufferPointer { evhttp_add_header(headers, "Date", $0.baseAddress) }
    }

    private static let dayNames = Array("SunMonTueWedThuFriSat".utf8)
    private static let monthNames = Array("JanFebMarAprMayJunJulAugSepOctNovDec".utf8)

    /// "Sun, 06 Nov 1994 08:49:37 GMT": evhttp's "%s, %02d %s %4d %02d:%02d:%02d GMT".
    static func formatDate(_ parts: tm, into text: inout [CChar]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(30)
        func twoDigits(_ value: Int32) {
            bytes.append(UInt8(ascii: "0") + UInt8(value / 10 % 10))
            bytes.append(UInt8(ascii: "0") + UInt8(value % 10))
        }
        let day = Int(parts.tm_wday) * 3
        bytes.append(contentsOf: dayNames[day..<day + 3])
        bytes.append(contentsOf: [UInt8(ascii: ","), UInt8(ascii: " ")])
        twoDigits(parts.tm_mday)
        bytes.append(UInt8(ascii: " "))
        let month = Int(parts.tm_mon) * 3
        bytes.append(contentsOf: monthNames[month..<month + 3])
        bytes.append(UInt8(ascii: " "))
        let year = String(Int(parts.tm_year) + 1900).utf8
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: max(0, 4 - year.count)))
        bytes.append(contentsOf: year)
        bytes.append(UInt8(ascii: " "))
        twoDigits(parts.tm_hour)
        bytes.append(UInt8(ascii: ":"))
        twoDigits(parts.tm_min)
        bytes.append(UInt8(ascii: ":"))
        twoDigits(parts.tm_sec)
        bytes.append(contentsOf: Array(" GMT".utf8))
        text = bytes.map { CChar(bitPattern: $0) } + [0]
    }

    private static func isDateOrLength(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return lowered == "date" || lowered == "content-length" || lowered == "transfer-encoding"
    }

    /// Adds `Content-Length`, its digits written without a format string.
    private static func addContentLength(_ length: Int, to headers: UnsafeMutablePointer<evkeyvalq>) {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 24) { digits in
            var index = 23
            digits[index] = 0
            var rest = max(0, length)
            repeat {
                index -= 1
                digits[index] = CChar(UInt8(ascii: "0") + UInt8(rest % 10))
                rest /= 10
            } while rest > 0
            _ = evhttp_add_header(headers, "Content-Length", digits.baseAddress! + index)
        }
    }

    /// The route label for metrics, from the raw target without allocating.
    static func routeLabel(_ uri: UnsafePointer<CChar>?) -> HTTPRouteLabel {
        guard let uri else { return .other }
        if strncmp(uri, "/applications/", 14) == 0 { return hasFlagParameter(uri) ? .flag : .configuration }
        if isPath(uri, "/ping") { return .ping }
        if isPath(uri, "/ready") { return .ready }
        if isPath(uri, "/metrics") { return .metrics }
        return .other
    }

    /// Whether the target's path is `path`, with or without a query.
    private static func isPath(_ uri: UnsafePointer<CChar>, _ path: StaticString) -> Bool {
        let length = path.utf8CodeUnitCount
        return path.withUTF8Buffer { strncmp(uri, UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), length) == 0 }
            && (uri[length] == 0 || uri[length] == CChar(UInt8(ascii: "?")))
    }

    /// Whether the query has a `flag` parameter (`?flag=` or `&flag=`).
    private static func hasFlagParameter(_ uri: UnsafePointer<CChar>) -> Bool {
        var separator = strchr(uri, Int32(UInt8(ascii: "?")))
        while let current = separator {
            if strncmp(current + 1, "flag=", 5) == 0 { return true }
            separator = strchr(current + 1, Int32(UInt8(ascii: "&")))
        }
        return false
    }

    private static func method(_ command: evhttp_cmd_type) -> HTTPMethod {
        switch command {
        case EVHTTP_REQ_GET: .get
        case EVHTTP_REQ_HEAD: .head
        case EVHTTP_REQ_POST: .post
        case EVHTTP_REQ_PUT: .put
        case EVHTTP_REQ_DELETE: .delete
        case EVHTTP_REQ_OPTIONS: .options
        case EVHTTP_REQ_PATCH: .patch
        default: .other
        }
    }
}

/// A request as libevent holds it, seen through `RouteRequest`.
struct LibeventRequest: RouteRequest {
    let method: HTTPMethod
    let target: String
    let headers: UnsafeMutablePointer<evkeyvalq>?

    func header(_ name: String) -> String? {
        guard let headers, let value = evhttp_find_header(headers, name) else { return nil }
        return String(cString: value)
    }

    func headers(named name: String) -> [String] {
        guard let headers else { return [] }
        var values: [String] = []
        var header = CLibEvent_headers_first(headers)
        while let current = header {
            if strcasecmp(current.pointee.key, name) == 0 { values.append(String(cString: current.pointee.value)) }
            header = CLibEvent_headers_next(current)
        }
        return values
    }
}

/// A waiting request's libevent handles, carried across threads but only used on the loop's own.
private struct WaitingRequest: @unchecked Sendable {
    let request: OpaquePointer
    let connection: OpaquePointer
}

private struct ChangeWaiter {
    let handles: WaitingRequest
    /// The ETag the client has (the store's at the time it started waiting, which matched it).
    let etag: String
    /// The wait's expiry: freed with the waiter, so an answered wait leaves nothing behind.
    let timer: OpaquePointer
    /// The retained `WaitExpiry` the timer's callback receives; released with the waiter.
    let expiry: UnsafeMutableRawPointer
}

private final class WaitExpiry {
    let loop: EventLoop
    let key: ConfigurationKey
    let id: Int
    init(loop: EventLoop, key: ConfigurationKey, id: Int) {
        self.loop = loop
        self.key = key
        self.id = id
    }
}

private final class LoopTask {
    let loop: EventLoop
    let body: @Sendable (EventLoop) -> Void
    init(loop: EventLoop, body: @escaping @Sendable (EventLoop) -> Void) {
        self.loop = loop
        self.body = body
    }
}

// C callbacks: ordinary functions, never closures written in top-level code (see STYLE.md).

private func eventLoopHandleRequest(_ request: OpaquePointer?, _ context: UnsafeMutableRawPointer?) {
    guard let request, let context else { return }
    Unmanaged<EventLoop>.fromOpaque(context).takeUnretainedValue().handle(request)
}

private func eventLoopConnectionClosed(_ connection: OpaquePointer?, _ context: UnsafeMutableRawPointer?) {
    guard let connection, let context else { return }
    Unmanaged<EventLoop>.fromOpaque(context).takeUnretainedValue().connectionClosed(connection)
}

private func eventLoopAcceptFailed(_ listener: OpaquePointer?, _ http: UnsafeMutableRawPointer?) {
    let code = errno
    guard let listener, let http, let loop = EventLoop.loop(of: http) else { return }
    loop.acceptFailed(listener, errno: code)
}

private func eventLoopRunTask(_ fd: Int32, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    let task = Unmanaged<LoopTask>.fromOpaque(context).takeRetainedValue()
    task.body(task.loop)
}

private func eventLoopWaitExpired(_ fd: Int32, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    // Unretained: the waiter owns the retain, and finishing it frees this timer (allowed from its
    // own callback) and releases the context.
    let expiry = Unmanaged<WaitExpiry>.fromOpaque(context).takeUnretainedValue()
    expiry.loop.finishChangeWaiter(key: expiry.key, id: expiry.id)
}

private func eventLoopReleasePayload(_ data: UnsafeRawPointer?, _ length: Int, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    Unmanaged<ConfigurationPayload>.fromOpaque(context).release()
}
