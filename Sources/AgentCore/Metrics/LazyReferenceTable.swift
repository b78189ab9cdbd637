import Synchronization

/// A fixed number of slots, each filled at most once, read without a lock: the hot path's cache
/// of series handles.
///
/// Each slot is an `Atomic<UInt>` holding a retained object's address (0 while empty) rather than
/// an `AtomicLazyReference`, whose `load()` is not inlined on Linux and measured ~200 ns a call;
/// this one is an acquiring load of a word.
final class LazyReferenceTable<Element: AnyObject & Sendable>: @unchecked Sendable {
    // @unchecked: `slots` points at `count` atomics, allocated and initialised in init, never
    // reassigned, freed in deinit when no other reference can exist. A slot goes from 0 to an
    // address once, by compare-and-swap with release/acquire ordering, so a reader that sees the
    // address sees the fully made object; the table holds a +1 retain on each stored object until
    // deinit. The elements themselves are Sendable.
    private let slots: UnsafeMutablePointer<Atomic<UInt>>
    let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: count)
        for index in 0..<count {
            (slots + index).initialize(to: Atomic<UInt>(0))
        }
    }

    deinit {
        for index in 0..<count {
            if let address = UnsafeRawPointer(bitPattern: slots[index].load(ordering: .acquiring)) {
                Unmanaged<Element>.fromOpaque(address).release()
            }
        }
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    /// The element in slot `index`, made by `make` the first time; when two threads race, both get
    /// the one that was stored first.
    @inline(__always)
    func element(at index: Int, orMake make: () -> Element) -> Element {
        precondition(index >= 0 && index < count, "slot index outside the table")
        if let address = UnsafeRawPointer(bitPattern: slots[index].load(ordering: .acquiring)) {
            return Unmanaged<Element>.fromOpaque(address).takeUnretainedValue()
        }
        return store(make(), at: index)
    }

    /// Runs `body` on the element in slot `index` (made by `make` the first time) without retaining
    /// or releasing it: reference counting is an atomic operation on the object, which threads
    /// updating the same series would otherwise contend on. The table keeps the element alive.
    @inline(__always)
    func withElement<Result>(at index: Int, orMake make: () -> Element, _ body: (Element) -> Result) -> Result {
        precondition(index >= 0 && index < count, "slot index outside the table")
        if let address = UnsafeRawPointer(bitPattern: slots[index].load(ordering: .acquiring)) {
            return Unmanaged<Element>.fromOpaque(address)._withUnsafeGuaranteedRef(body)
        }
        return body(store(make(), at: index))
    }

    private func store(_ made: Element, at index: Int) -> Element {
        let retained = Unmanaged.passRetained(made)
        let (exchanged, current) = slots[index].compareExchange(
            expected: 0, desired: UInt(bitPattern: retained.toOpaque()),
            successOrdering: .releasing, failureOrdering: .acquiring)
        if exchanged { return made }
        retained.release()
        guard let address = UnsafeRawPointer(bitPattern: current) else { return made } // unreachable: slots only go from 0 to an address
        return Unmanaged<Element>.fromOpaque(address).takeUnretainedValue()
    }
}
