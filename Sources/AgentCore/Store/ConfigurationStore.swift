import Synchronization

/// An immutable view of every cached configuration at one instant.
public final class StoreSnapshot: Sendable {
    public let configurations: [ConfigurationKey: ConfigurationPayload]
    /// Increases by one with every change; lets waiters tell snapshots apart cheaply.
    public let generation: UInt64

    init(configurations: [ConfigurationKey: ConfigurationPayload], generation: UInt64) {
        self.configurations = configurations
        self.generation = generation
    }

    public subscript(key: ConfigurationKey) -> ConfigurationPayload? { configurations[key] }
}

/// The in-memory cache every request is answered from.
///
/// Readers take the current snapshot: a lock held only for the time of one reference copy, never
/// while a writer builds the next snapshot. A response is therefore always one complete version.
public final class ConfigurationStore: Sendable {
    private let current: Mutex<StoreSnapshot>
    /// Serialises writers, so the read lock is held only for a pointer swap.
    private let writer = Mutex<Void>(())
    private let observers = Mutex<[@Sendable (StoreSnapshot) -> Void]>([])
    /// Snapshots waiting to be handed to the observers, in generation order, and whether a thread
    /// is handing them out already.
    private let delivery = Mutex<(pending: [StoreSnapshot], busy: Bool)>(([], false))

    public init() {
        current = Mutex(StoreSnapshot(configurations: [:], generation: 0))
    }

    /// The current snapshot; cheap enough for every request.
    @inline(__always)
    public func snapshot() -> StoreSnapshot {
        current.withLock { $0 }
    }

    public func payload(for key: ConfigurationKey) -> ConfigurationPayload? {
        snapshot()[key]
    }

    /// Stores a new version of one configuration.
    public func put(_ payload: ConfigurationPayload) {
        apply { $0[payload.key] = payload }
    }

    /// Stops serving one configuration.
    public func remove(_ key: ConfigurationKey) {
        apply { $0.removeValue(forKey: key) }
    }

    /// Replaces every configuration of one source with `payloads` (local mode: the directory's files).
    public func replaceAll(from source: ConfigurationSource, with payloads: [ConfigurationKey: ConfigurationPayload]) {
        apply { configurations in
            configurations = configurations.filter { $0.value.source != source }
            configurations.merge(payloads) { _, new in new }
        }
    }

    /// Calls `observer` after every change, with the new snapshot (change notification, readiness).
    ///
    /// Snapshots reach the observers one at a time and in generation order, even when writers race
    /// or an observer itself changes the store: that change is delivered once the current snapshot
    /// has been through every observer. An observer never sees an older snapshot after a newer one.
    public func observe(_ observer: @escaping @Sendable (StoreSnapshot) -> Void) {
        observers.withLock { $0.append(observer) }
    }

    private func apply(_ change: (inout [ConfigurationKey: ConfigurationPayload]) -> Void) {
        // Writers take turns under `writer` and build the next snapshot outside the read lock;
        // readers only ever wait for the pointer swap. The snapshot is queued for the observers
        // under the same lock, so the queue is in generation order.
        let deliverNow: Bool = writer.withLock { _ in
            let base = snapshot()
            var configurations = base.configurations
            change(&configurations)
            let next = StoreSnapshot(configurations: configurations, generation: base.generation &+ 1)
            current.withLock { $0 = next }
            return delivery.withLock { delivery in
                delivery.pending.append(next)
                guard !delivery.busy else { return false }
                delivery.busy = true
                return true
            }
        }
        guard deliverNow else { return }
        // This thread hands out every queued snapshot, including ones queued meanwhile by other
        // writers (they return at once) or by the observers themselves.
        while let next = delivery.withLock({ delivery -> StoreSnapshot? in
            if delivery.pending.isEmpty {
                delivery.busy = false
                return nil
            }
            return delivery.pending.removeFirst()
        }) {
            for observer in observers.withLock({ $0 }) { observer(next) }
        }
    }
}
